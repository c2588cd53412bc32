//go:build !linux

package audio

import "os"

// memInput has no memory files to offer outside Linux: MP4 then streams
// through stdin like the other formats, which works when its index (moov)
// comes first (-movflags +faststart) and fails as unsupported otherwise.
// Nothing is ever written to a temporary file.
func memInput(data []byte) (*os.File, error) { return nil, nil }
