package httpapi

import (
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
func readForm(w http.ResponseWriter, r *http.Request, fileFields ...string) (*form, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, voxgate.Errorf(voxgate.EINVALID, "Content-Type must be multipart/form-data with the audio as a file field")
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
			b, err := io.ReadAll(io.LimitReader(part, audio.DefaultMaxBytes+1))
			if err != nil {
				return nil, bodyError(err, "could not read the audio part")
			}
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
