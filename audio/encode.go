package audio

import (
	"encoding/binary"
	"math"
)

// EncodeWAV returns samples (mono, -1..1) as a canonical 44-byte-header
// RIFF/WAVE file at rate Hz: one channel of 16-bit little-endian PCM, the
// SDK-compatible format voxgate itself accepts. Samples are clamped to
// [-1, 1] and scaled by 32767 with rounding; NaN becomes 0. It is meant for
// tests, tools and clients that synthesise uploads, not for the request path.
func EncodeWAV(samples []float32, rate int) []byte {
	const header = 44
	n := 2 * len(samples) // data bytes
	b := make([]byte, header+n)
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(header-8+n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)             // fmt chunk size
	le.PutUint16(b[20:], wavePCM)        // format tag
	le.PutUint16(b[22:], 1)              // channels
	le.PutUint32(b[24:], uint32(rate))   // sample rate, Hz
	le.PutUint32(b[28:], uint32(2*rate)) // byte rate
	le.PutUint16(b[32:], 2)              // block align, bytes per frame
	le.PutUint16(b[34:], 16)             // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(n))
	for i, v := range samples {
		f := float64(v)
		if math.IsNaN(f) {
			f = 0
		}
		f = max(-1, min(1, f))
		le.PutUint16(b[header+2*i:], uint16(int16(math.Round(f*32767))))
	}
	return b
}
