package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"voxgate"
	"voxgate/audio"
)

// maxAudioBody bounds a multipart request: the audio limit plus room for
// the form fields and part headers.
const maxAudioBody = audio.DefaultMaxBytes + 1<<20

// maxField bounds a non-file form field.
const maxField = 64 << 10

// form is a parsed multipart request: its text fields and one file.
type form struct {
	fields map[string]string
	file   []byte
	// fileField is the name of the part the file came from.
	fileField string
}

// readForm streams a multipart/form-data body, keeping the text fields and
// the first part named one of fileFields, all bounded in size. Nothing
// touches the disk.
// The request is first admitted against the node's audio budget (503 with
// Retry-After when it stays spent), before any of the body is read.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, fileFields ...string) (*form, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, voxgate.Errorf(voxgate.EINVALID, "Content-Type must be multipart/form-data with the audio as a file field")
	}
	if err := s.admitAudio(r, maxAudioBody, 1); err != nil {
		return nil, err
	}
	body := http.MaxBytesReader(w, r.Body, maxAudioBody)
	mr := multipart.NewReader(body, params["boundary"])
	f := &form{fields: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bodyError(err, "malformed multipart body")
		}
		name := part.FormName()
		isFile := false
		for _, ff := range fileFields {
			isFile = isFile || name == ff
		}
		switch {
		case isFile && f.file == nil:
			// Sized from the declared length, so that the buffer is not
			// regrown (and copied) on the way to 25 MB.
			var buf bytes.Buffer
			buf.Grow(int(min(max(r.ContentLength, 0), audio.DefaultMaxBytes+1)))
			if _, err := buf.ReadFrom(io.LimitReader(part, audio.DefaultMaxBytes+1)); err != nil {
				return nil, bodyError(err, "could not read the audio part")
			}
			b := buf.Bytes()
			if len(b) > audio.DefaultMaxBytes {
				return nil, voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "audio file larger than %d MB", audio.DefaultMaxBytes>>20)
			}
			f.file, f.fileField = b, name
		case part.FileName() == "" && name != "":
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if err != nil {
				return nil, bodyError(err, "could not read a form field")
			}
			if len(b) > maxField {
				return nil, voxgate.Errorf(voxgate.EINVALID, "form field %q is too long", name)
			}
			if _, dup := f.fields[name]; !dup {
				f.fields[name] = strings.TrimSpace(string(b))
			}
		default:
			// Unknown file parts are drained, bounded by the body limit.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError(err, "malformed multipart body")
			}
		}
		part.Close()
	}
	if f.file == nil {
		return nil, voxgate.Errorf(voxgate.EINVALID, "missing audio file field %q", fileFields[0])
	}
	if len(f.file) == 0 {
		return nil, voxgate.Errorf(voxgate.EINVALID, "the audio file is empty")
	}
	return f, nil
}

func bodyError(err error, msg string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "request body larger than %d MB", mbe.Limit>>20)
	}
	return voxgate.Errorf(voxgate.EINVALID, "%s", msg)
}

// admitAudio reserves the node's audio budget for the request's body
// (its declared length, or limit when it declares none) times factor (the
// copies the route makes of it), until the request ends.
func (s *Server) admitAudio(r *http.Request, limit, factor int64) error {
	size := limit
	if r.ContentLength >= 0 {
		size = min(r.ContentLength, limit)
	}
	release, err := s.svc.AdmitAudio(r.Context(), size*factor)
	if err != nil {
		return err
	}
	rc := reqContext(r.Context())
	rc.cleanup = append(rc.cleanup, release)
	return nil
}
