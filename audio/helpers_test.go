package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"

	"voxgate/internal/shared"
)

// voiceFile returns the path of a file under shared/voice-data/corpora.
func voiceFile(t testing.TB, rel string) string {
	t.Helper()
	return shared.Path(t, filepath.Join("voice-data", "corpora", rel))
}

// needTool returns the path of an external tool, skipping the test when it
// is absent (failing when CI is set).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// wavSpec describes a synthetic WAV file.
type wavSpec struct {
	tag        uint16 // wavePCM, waveFloat, waveALaw, waveMuLaw
	bits       int
	channels   int
	rate       int
	extensible bool
	riff       string  // "RIFF" (default), "RIFX", "RF64"
	dataSize   *uint32 // overrides the data chunk size field
	extraFirst bool    // put an odd-sized LIST chunk before fmt
	noPad      bool    // omit the pad byte after odd-sized chunks, as some writers do
	dataFirst  bool    // put the data chunk before fmt
}

// makeWAV encodes interleaved samples x (-1..1) as described by s.
func makeWAV(s wavSpec, x []float64) []byte {
	if s.riff == "" {
		s.riff = "RIFF"
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if s.riff == "RIFX" {
		bo = binary.BigEndian
	}
	width := s.bits / 8
	var body bytes.Buffer
	for _, v := range x {
		v = math.Max(-1, math.Min(1, v))
		b := make([]byte, 8)
		switch s.tag {
		case waveFloat:
			if width == 4 {
				bo.PutUint32(b, math.Float32bits(float32(v)))
			} else {
				bo.PutUint64(b, math.Float64bits(v))
			}
		case waveMuLaw:
			b[0] = encodeG711(v, muLaw)
		case waveALaw:
			b[0] = encodeG711(v, aLaw)
		default:
			if width == 1 {
				b[0] = byte(math.Round(v*127) + 128)
				break
			}
			full := math.Ldexp(1, s.bits-1) - 1
			iv := uint64(int64(math.Round(v * full)))
			for i := 0; i < width; i++ {
				shift := 8 * uint(i)
				if s.riff == "RIFX" {
					shift = 8 * uint(width-1-i)
				}
				b[i] = byte(iv >> shift)
			}
		}
		body.Write(b[:width])
	}
	fmtBody := make([]byte, 16, 40)
	tag := s.tag
	if s.extensible {
		tag = waveExtensible
	}
	bo.PutUint16(fmtBody[0:], tag)
	bo.PutUint16(fmtBody[2:], uint16(s.channels))
	bo.PutUint32(fmtBody[4:], uint32(s.rate))
	bo.PutUint32(fmtBody[8:], uint32(s.rate*s.channels*width))
	bo.PutUint16(fmtBody[12:], uint16(s.channels*width))
	bo.PutUint16(fmtBody[14:], uint16(s.bits))
	if s.extensible {
		ext := make([]byte, 24)
		bo.PutUint16(ext[0:], 22)
		bo.PutUint16(ext[2:], uint16(s.bits))
		bo.PutUint32(ext[4:], 0)
		binary.LittleEndian.PutUint16(ext[8:], s.tag)
		copy(ext[10:], ksdataformatGUIDTail)
		fmtBody = append(fmtBody, ext...)
	}
	chunk := func(w *bytes.Buffer, id string, b []byte, size uint32) {
		w.WriteString(id)
		var n [4]byte
		bo.PutUint32(n[:], size)
		w.Write(n[:])
		w.Write(b)
		if len(b)%2 == 1 && !s.noPad {
			w.WriteByte(0)
		}
	}
	var chunks bytes.Buffer
	if s.riff == "RF64" {
		ds := make([]byte, 28)
		binary.LittleEndian.PutUint64(ds[8:], uint64(body.Len()))
		chunk(&chunks, "ds64", ds, 28)
	}
	if s.extraFirst {
		chunk(&chunks, "LIST", []byte("INFOISFT\x03\x00\x00\x00go\x00"), 15)
	}
	dataSize := uint32(body.Len())
	if s.dataSize != nil {
		dataSize = *s.dataSize
	}
	if s.dataFirst {
		chunk(&chunks, "data", body.Bytes(), dataSize)
		chunk(&chunks, "fmt ", fmtBody, uint32(len(fmtBody)))
	} else {
		chunk(&chunks, "fmt ", fmtBody, uint32(len(fmtBody)))
		chunk(&chunks, "data", body.Bytes(), dataSize)
	}
	var out bytes.Buffer
	out.WriteString(s.riff)
	var n [4]byte
	riffSize := uint32(4 + chunks.Len())
	if s.riff == "RF64" {
		riffSize = 0xffffffff
	}
	bo.PutUint32(n[:], riffSize)
	out.Write(n[:])
	out.WriteString("WAVE")
	out.Write(chunks.Bytes())
	return out.Bytes()
}

// encodeG711 returns the byte whose decoded value is nearest to v.
func encodeG711(v float64, decode func(byte) int) byte {
	best, bestErr := byte(0), math.Inf(1)
	for i := range 256 {
		if e := math.Abs(float64(decode(byte(i)))/32768 - v); e < bestErr {
			best, bestErr = byte(i), e
		}
	}
	return best
}

// tone returns n samples of a sine of freq Hz at rate Hz and amplitude amp.
func tone(n int, freq, rate, amp float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*freq*float64(i)/rate)
	}
	return x
}

// interleave repeats mono x over ch channels, channel c scaled by gains[c].
func interleave(x []float64, gains ...float64) []float64 {
	out := make([]float64, 0, len(x)*len(gains))
	for _, v := range x {
		for _, g := range gains {
			out = append(out, v*g)
		}
	}
	return out
}

// makeFLAC encodes interleaved 16-bit samples x with github.com/mewkiz/flac.
func makeFLAC(t testing.TB, x []float64, channels, rate int) []byte {
	t.Helper()
	frames := len(x) / channels
	info := &meta.StreamInfo{
		BlockSizeMin: 4096, BlockSizeMax: 4096,
		SampleRate: uint32(rate), NChannels: uint8(channels), BitsPerSample: 16,
		NSamples: uint64(frames),
	}
	var buf bytes.Buffer
	enc, err := flac.NewEncoder(&buf, info)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < frames; off += 4096 {
		n := min(4096, frames-off)
		f := &frame.Frame{Header: frame.Header{
			HasFixedBlockSize: true, BlockSize: uint16(n), SampleRate: uint32(rate),
			Channels: frame.Channels(channels - 1), BitsPerSample: 16,
		}}
		for c := range channels {
			s := make([]int32, n)
			for i := range s {
				s[i] = int32(math.Round(math.Max(-1, math.Min(1, x[(off+i)*channels+c])) * 32767))
			}
			f.Subframes = append(f.Subframes, &frame.Subframe{
				SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: s, NSamples: n,
			})
		}
		if err := enc.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// silentMP3 returns n frames of MPEG-1 layer III, 128 kbit/s, 44.1 kHz mono
// silence: valid headers with all-zero side information and main data.
func silentMP3(n int) []byte {
	const size = 144 * 128000 / 44100 // 417 bytes, no padding
	var b []byte
	for range n {
		f := make([]byte, size)
		copy(f, []byte{0xff, 0xfb, 0x90, 0xc0})
		b = append(b, f...)
	}
	return b
}

// levelAt measures the amplitude of the freq Hz component of x (rate Hz) by
// correlating the middle of x with a sine and cosine (edges skipped).
func levelAt(x []float32, freq, rate float64) float64 {
	lo, hi := len(x)/4, 3*len(x)/4
	var s, c float64
	for i := lo; i < hi; i++ {
		ph := 2 * math.Pi * freq * float64(i) / rate
		s += float64(x[i]) * math.Sin(ph)
		c += float64(x[i]) * math.Cos(ph)
	}
	n := float64(hi - lo)
	return 2 * math.Hypot(s, c) / n
}

func toF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func u32(v uint32) *uint32 { return &v }
