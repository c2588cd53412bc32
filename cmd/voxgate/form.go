package main

import (
	"bytes"
	"mime/multipart"
)

// audioForm encodes fields and one audio file (form field "audio", named
// filename) as a multipart/form-data body: the upload of the audio routes,
// as the load tools send it. It returns the body and its Content-Type.
func audioForm(fields map[string]string, filename string, audio []byte) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("audio", filename)
	_, _ = fw.Write(audio)
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}
