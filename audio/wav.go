package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// WAVE format tags (the fmt chunk's wFormatTag).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xfffe
)

// ksdataformatGUIDTail is bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID
// whose first two bytes carry a classic format tag.
const ksdataformatGUIDTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

// wavFmt is the decoded fmt chunk.
type wavFmt struct {
	tag        uint16 // resolved: extensible sub-formats are replaced by their tag
	channels   int
	rate       int
	blockAlign int
	bits       int // container bits per sample
}

// decodeWAV parses a RIFF/RIFX/RF64/BW64 WAVE file held in data and returns
// its samples mixed to mono. Data chunk sizes of 0 or 0xFFFFFFFF (streamed
// writers) and sizes past the end of data (truncated files) are read to the
// end of data; a trailing partial frame is dropped. The duration bound is
// checked from the header before the output is allocated.
func decodeWAV(data []byte, lim limits) (*pcm, error) { return readWAV(data, lim, false) }

// decodeWAV16k is decodeWAV resampled to [Rate] as it mixes, without the
// source-rate samples ever being held whole.
func decodeWAV16k(data []byte, lim limits) (*pcm, error) { return readWAV(data, lim, true) }

func readWAV(data []byte, lim limits, resample bool) (*pcm, error) {
	if len(data) < 12 || Detect(data) != WAV {
		return nil, fmt.Errorf("%w: not a WAVE file", ErrCorrupt)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if string(data[:4]) == "RIFX" {
		bo = binary.BigEndian
	}
	rf64 := string(data[:4]) == "RF64" || string(data[:4]) == "BW64"

	var (
		f        *wavFmt
		body     []byte // data chunk payload
		haveData bool
		ds64Data uint64 // RF64 data size from the ds64 chunk
		haveDS64 bool
		pos      = 12
		fmtErr   error
	)
	for pos+8 <= len(data) {
		id := string(data[pos : pos+4])
		size := uint64(bo.Uint32(data[pos+4 : pos+8]))
		pos += 8
		rest := uint64(len(data) - pos)
		switch id {
		case "ds64":
			if rf64 && size >= 24 && rest >= 24 {
				ds64Data = binary.LittleEndian.Uint64(data[pos+8 : pos+16])
				haveDS64 = true
			}
		case "fmt ":
			if f != nil {
				break // keep the first
			}
			f, fmtErr = parseWAVFmt(data[pos:pos+int(min(size, rest))], bo)
			if fmtErr != nil && !errors.Is(fmtErr, errNeedsFFmpeg) {
				return nil, fmtErr
			}
		case "data":
			if haveData {
				break
			}
			haveData = true
			switch {
			case rf64 && size == 0xffffffff && haveDS64:
				size = ds64Data
			case size == 0xffffffff || size == 0 && !looksLikeChunk(data[pos:]):
				size = rest // streamed: the writer never came back to fill the size in
			}
			size = min(size, rest) // truncated file: take what is there
			body = data[pos : pos+int(size)]
		}
		if size > rest {
			break
		}
		pos += int(size)
		// Chunks are padded to even sizes, but some writers forget the pad
		// byte: skip it unless a chunk header starts right here and not
		// one byte on.
		if size&1 == 1 && !(chunkIDAt(data, pos) && !chunkIDAt(data, pos+1)) {
			pos++
		}
		if haveData && f != nil {
			break
		}
	}
	switch {
	case f == nil && fmtErr == nil:
		return nil, fmt.Errorf("%w: WAVE file has no fmt chunk", ErrCorrupt)
	case fmtErr != nil:
		return nil, fmtErr
	case !haveData:
		return nil, fmt.Errorf("%w: WAVE file has no data chunk", ErrCorrupt)
	}
	if err := checkRate(f.rate); err != nil {
		return nil, err
	}
	frames := int64(len(body) / f.blockAlign)
	if err := lim.checkFrames(frames, f.rate); err != nil {
		return nil, err
	}
	if resample && f.rate != Rate {
		// Mix and resample a block at a time: a 22 MB 8-bit file at
		// 192 kHz costs its 7 MB at 16 kHz, not 88 MB of floats at the
		// source rate plus a padded copy of them.
		out := NewResampler(f.rate, Rate).ResampleFunc(int(frames), func(dst []float32, start int) {
			mixWAV(dst, body[start*f.blockAlign:], f, bo)
		})
		return &pcm{samples: out, rate: Rate, srcRate: f.rate, channels: f.channels, codec: mixWAV(nil, body, f, bo)}, nil
	}
	out := make([]float32, frames)
	codec := mixWAV(out, body, f, bo)
	return &pcm{samples: out, rate: f.rate, channels: f.channels, codec: codec}, nil
}

// chunkIDAt reports whether a chunk ID (four printable ASCII bytes) starts
// at data[i].
func chunkIDAt(data []byte, i int) bool {
	return i <= len(data) && isChunkID(data[i:])
}

// isChunkID reports whether b starts with four printable ASCII bytes.
func isChunkID(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// looksLikeChunk reports whether b starts with a plausible chunk header (four
// printable ASCII bytes and a size that fits), which tells a genuinely empty
// data chunk from a streamed one whose size field was left at 0.
func looksLikeChunk(b []byte) bool {
	if len(b) < 8 {
		return len(b) == 0
	}
	return isChunkID(b) && uint64(binary.LittleEndian.Uint32(b[4:8])) <= uint64(len(b)-8)
}

// parseWAVFmt decodes a fmt chunk body. It returns errNeedsFFmpeg (with the
// parsed fmt) for valid but non-native codecs and ErrCorrupt or
// ErrUnsupportedFormat for broken or unusable ones.
func parseWAVFmt(b []byte, bo binary.ByteOrder) (*wavFmt, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: WAVE fmt chunk is %d bytes, want at least 16", ErrCorrupt, len(b))
	}
	f := &wavFmt{
		tag:        bo.Uint16(b[0:2]),
		channels:   int(bo.Uint16(b[2:4])),
		rate:       int(bo.Uint32(b[4:8])),
		blockAlign: int(bo.Uint16(b[12:14])),
		bits:       int(bo.Uint16(b[14:16])),
	}
	if f.tag == waveExtensible {
		if len(b) < 40 {
			return nil, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, want 40", ErrCorrupt, len(b))
		}
		guid := b[24:40]
		if string(guid[2:]) != ksdataformatGUIDTail {
			return nil, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE sub-format % x", errNeedsFFmpeg, guid)
		}
		f.tag = binary.LittleEndian.Uint16(guid[:2]) // GUIDs are stored little-endian
	}
	if f.channels == 0 {
		return nil, fmt.Errorf("%w: WAVE fmt declares 0 channels", ErrCorrupt)
	}
	if f.rate == 0 {
		return nil, fmt.Errorf("%w: WAVE fmt declares a 0 Hz sample rate", ErrCorrupt)
	}
	switch f.tag {
	case wavePCM:
		if f.bits < 1 || f.bits > 32 {
			return nil, fmt.Errorf("%w: %d-bit PCM WAVE", ErrUnsupportedFormat, f.bits)
		}
	case waveFloat:
		if f.bits != 32 && f.bits != 64 {
			return nil, fmt.Errorf("%w: %d-bit float WAVE", ErrUnsupportedFormat, f.bits)
		}
	case waveALaw, waveMuLaw:
		if f.bits != 8 {
			return nil, fmt.Errorf("%w: %d-bit G.711 WAVE", ErrUnsupportedFormat, f.bits)
		}
	default:
		return f, fmt.Errorf("%w: WAV codec 0x%04x", errNeedsFFmpeg, f.tag)
	}
	// The container width of one sample: ceil(bits/8) bytes, unless the block
	// alignment says samples sit in wider containers (e.g. 20 in 24 bits, or
	// 24 in 32 bits with validBits in the extensible header).
	width := (f.bits + 7) / 8
	if f.blockAlign%f.channels == 0 {
		if w := f.blockAlign / f.channels; w > width && w <= 8 && !(f.tag == waveFloat && w != width) {
			width = w
		}
	}
	f.bits = 8 * width
	f.blockAlign = width * f.channels
	return f, nil
}

// mixWAV decodes len(out) frames of body into out, averaging the channels,
// and returns the codec name. body holds at least len(out)*f.blockAlign bytes.
func mixWAV(out []float32, body []byte, f *wavFmt, bo binary.ByteOrder) string {
	ch := f.channels
	width := f.bits / 8
	big := bo == binary.BigEndian
	gain := float32(1 / float64(ch))
	// sample(i) decodes the i-th sample of body.
	var (
		sample func(b []byte) float32
		codec  string
	)
	switch f.tag {
	case waveFloat:
		if width == 4 {
			codec = "pcm_f32"
			sample = func(b []byte) float32 { return unitFloat(math.Float32frombits(bo.Uint32(b))) }
		} else {
			codec = "pcm_f64"
			sample = func(b []byte) float32 { return unitFloat(float32(math.Float64frombits(bo.Uint64(b)))) }
		}
	case waveMuLaw, waveALaw:
		var table [256]float32
		if f.tag == waveMuLaw {
			codec = "pcm_mulaw"
			for i := range table {
				table[i] = float32(muLaw(byte(i))) / 32768
			}
		} else {
			codec = "pcm_alaw"
			for i := range table {
				table[i] = float32(aLaw(byte(i))) / 32768
			}
		}
		sample = func(b []byte) float32 { return table[b[0]] }
	default: // integer PCM, any width 1..8 bytes
		switch width {
		case 1:
			codec = "pcm_u8"
			sample = func(b []byte) float32 { return (float32(b[0]) - 128) / 128 }
		case 2:
			codec = "pcm_s16"
			if big {
				sample = func(b []byte) float32 { return float32(int16(binary.BigEndian.Uint16(b))) / (1 << 15) }
			} else {
				sample = func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) / (1 << 15) }
			}
		default:
			codec = fmt.Sprintf("pcm_s%d", 8*width)
			scale := 1 / math.Ldexp(1, 63)
			sample = func(b []byte) float32 {
				// Left-justify the sample in 64 bits so the sign lands in bit 63.
				var v uint64
				if big {
					for i := 0; i < width; i++ {
						v = v<<8 | uint64(b[i])
					}
				} else {
					for i := width - 1; i >= 0; i-- {
						v = v<<8 | uint64(b[i])
					}
				}
				return float32(float64(int64(v<<(64-8*uint(width)))) * scale)
			}
		}
	}
	if f.tag != waveMuLaw && f.tag != waveALaw && width > 1 {
		if big {
			codec += "be"
		} else {
			codec += "le"
		}
	}
	if ch == 1 {
		// Fast path for the common mono case.
		if f.tag == wavePCM && width == 2 && !big {
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(body[2*i:]))) / (1 << 15)
			}
			return codec
		}
		for i := range out {
			out[i] = sample(body[i*width:])
		}
		return codec
	}
	if f.tag == wavePCM && width == 2 && !big {
		// Fast path for the common interleaved 16-bit case.
		g := gain / (1 << 15)
		for i := range out {
			frame := body[i*f.blockAlign : (i+1)*f.blockAlign]
			var sum int32
			for c := 0; c < len(frame); c += 2 {
				sum += int32(int16(binary.LittleEndian.Uint16(frame[c:])))
			}
			out[i] = float32(sum) * g
		}
		return codec
	}
	for i := range out {
		frame := body[i*f.blockAlign:]
		var sum float32
		for c := 0; c < ch; c++ {
			sum += sample(frame[c*width:])
		}
		out[i] = sum * gain
	}
	return codec
}

// unitFloat clamps a float sample into -1..1 and maps NaN to 0, so that
// hostile values cannot overflow the channel sum or poison later stages.
func unitFloat(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v < -1:
		return -1
	case v != v:
		return 0
	}
	return v
}

// muLaw decodes one G.711 mu-law byte to a 16-bit linear value (-32124..32124).
func muLaw(u byte) int {
	u = ^u
	t := (int(u&0x0f)<<3 + 0x84) << (uint(u&0x70) >> 4)
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

// aLaw decodes one G.711 A-law byte to a 16-bit linear value (-32256..32256).
func aLaw(a byte) int {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= uint(seg - 1)
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}
