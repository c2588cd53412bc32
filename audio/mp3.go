package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	mp3 "github.com/hajimehoshi/go-mp3"
)

// mpegHeader is the part of an MPEG audio frame header this package needs.
type mpegHeader struct {
	version  int // 1 (MPEG-1), 2 (MPEG-2) or 25 (MPEG-2.5)
	layer    int // 1..3
	crc      bool
	bitrate  int // kbit/s; 0 means free format
	rate     int // Hz
	mono     bool
	size     int // frame length in bytes, 0 for free format
	samples  int // samples per channel in the frame
	sideInfo int // layer III side information length, bytes
}

var (
	mpegBitrates = [5][16]int{
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, -1}, // V1 L1
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, -1},    // V1 L2
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1},     // V1 L3
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, -1},    // V2 L1
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1},         // V2 L2, L3
	}
	mpegRates = [3]int{44100, 48000, 32000} // MPEG-1; halved for 2, quartered for 2.5
)

// parseMPEGHeader decodes the 4-byte MPEG audio frame header at b.
func parseMPEGHeader(b []byte) (mpegHeader, bool) {
	var h mpegHeader
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return h, false
	}
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = 25
	case 2:
		h.version = 2
	case 3:
		h.version = 1
	default:
		return h, false
	}
	h.layer = 4 - int((b[1]>>1)&3)
	if h.layer == 4 {
		return h, false
	}
	h.crc = b[1]&1 == 0
	bi, ri := b[2]>>4, (b[2]>>2)&3
	if bi == 15 || ri == 3 {
		return h, false
	}
	table := h.layer - 1
	if h.version != 1 {
		table = 3
		if h.layer > 1 {
			table = 4
		}
	}
	h.bitrate = mpegBitrates[table][bi]
	h.rate = mpegRates[ri]
	switch h.version {
	case 2:
		h.rate /= 2
	case 25:
		h.rate /= 4
	}
	pad := int(b[2]>>1) & 1
	h.mono = b[3]>>6 == 3
	switch {
	case h.layer == 1:
		h.samples = 384
		h.size = (12*h.bitrate*1000/h.rate + pad) * 4
	case h.layer == 2 || h.version == 1:
		h.samples = 1152
		h.size = 144*h.bitrate*1000/h.rate + pad
	default:
		h.samples = 576
		h.size = 72*h.bitrate*1000/h.rate + pad
	}
	switch {
	case h.version == 1 && h.mono:
		h.sideInfo = 17
	case h.version == 1:
		h.sideInfo = 32
	case h.mono:
		h.sideInfo = 9
	default:
		h.sideInfo = 17
	}
	return h, true
}

// gapless is what a Xing/Info frame with a LAME extension says about the
// stream: the first frame carries no audio, and the encoder added delay
// samples at the start and padding samples at the end.
type gapless struct {
	infoFrame      bool // first frame is a Xing/Info header (decodes to silence)
	delay, padding int  // encoder delay and padding, samples per channel
}

// mp3Start returns the offset of the first MPEG frame (after any ID3v2 tag)
// and its header.
func mp3Start(data []byte) (int, mpegHeader, error) {
	off := 0
	if n, ok := id3Size(data); ok {
		off = n
	}
	// Tolerate a little junk between the tag and the first frame, as
	// decoders do, but insist on two consecutive frame headers to avoid
	// locking onto a false sync inside the junk.
	const scan = 64 << 10
	for i := off; i < len(data)-4 && i < off+scan; i++ {
		h, ok := parseMPEGHeader(data[i:])
		if !ok {
			continue
		}
		if h.size == 0 || i+h.size+4 > len(data) {
			return i, h, nil // free format or single frame: trust it
		}
		if h2, ok := parseMPEGHeader(data[i+h.size:]); ok && h2.layer == h.layer && h2.rate == h.rate {
			return i, h, nil
		}
	}
	return 0, mpegHeader{}, fmt.Errorf("%w: no MPEG audio frame found", ErrCorrupt)
}

// readGapless parses the Xing/Info frame and LAME tag at the first frame, if any.
func readGapless(frame []byte, h mpegHeader) gapless {
	var g gapless
	if h.layer != 3 {
		return g
	}
	off := 4 + h.sideInfo
	if h.crc {
		off += 2
	}
	if len(frame) < off+8 || h.size > 0 && h.size < off+8 {
		return g
	}
	tag := string(frame[off : off+4])
	if tag != "Xing" && tag != "Info" {
		return g
	}
	g.infoFrame = true
	flags := binary.BigEndian.Uint32(frame[off+4:])
	lame := off + 8
	for bit, n := range [4]int{4, 4, 100, 4} { // frames, bytes, TOC, quality
		if flags&(1<<bit) != 0 {
			lame += n
		}
	}
	// LAME extension: 9-byte encoder version, then at +21 the 24-bit field
	// holding 12 bits of delay and 12 bits of padding.
	if len(frame) < lame+24 || h.size > 0 && h.size < lame+24 {
		return g
	}
	v := frame[lame : lame+4]
	if string(v) != "LAME" && string(v) != "Lavc" && string(v) != "Lavf" && string(v) != "GOGO" {
		return g
	}
	dp := frame[lame+21 : lame+24]
	g.delay = int(dp[0])<<4 | int(dp[1])>>4
	g.padding = int(dp[1]&0x0f)<<8 | int(dp[2])
	return g
}

// mp3DecoderDelay is the synthesis delay of a layer III decoder, in samples:
// the 528 + 1 that LAME's and ffmpeg's gapless arithmetic adds to the
// encoder delay.
const mp3DecoderDelay = 529

// decodeMP3 decodes MPEG-1/2/2.5 layer III with github.com/hajimehoshi/go-mp3,
// mixes its 16-bit stereo output back to mono and, when a LAME tag says how,
// trims the Info frame, the encoder delay, the decoder delay and the end
// padding so that the result lines up with the original audio (as ffmpeg and
// mpg123 do). The duration bound is checked from the frame count before
// decoding.
func decodeMP3(ctx context.Context, data []byte, lim limits) (p *pcm, err error) {
	defer guard("MP3", &err)
	start, h, err := mp3Start(data)
	if err != nil {
		return nil, err
	}
	if h.layer != 3 {
		return nil, fmt.Errorf("%w: MPEG layer %d audio", errNeedsFFmpeg, h.layer)
	}
	if err := checkRate(h.rate); err != nil {
		return nil, err
	}
	g := readGapless(data[start:], h)
	// go-mp3 skips an ID3v2 tag itself, but not junk after it: hand it the
	// stream from the first frame.
	dec, err := mp3.NewDecoder(bytes.NewReader(data[start:]))
	if err != nil {
		return nil, fmt.Errorf("%w: MP3: %v", ErrCorrupt, err)
	}
	if dec.SampleRate() != h.rate {
		return nil, fmt.Errorf("%w: MP3 sample rate changes mid-stream (%d, %d Hz)", ErrCorrupt, h.rate, dec.SampleRate())
	}
	const bytesPerFrame = 4 // go-mp3 output: 16-bit little-endian stereo
	total := dec.Length() / bytesPerFrame
	if total > 0 {
		if err := lim.checkFrames(total-int64(mp3DecoderDelay), h.rate); err != nil {
			return nil, err
		}
	}
	maxFrames := lim.maxFrames(h.rate) + 2*1152 + mp3DecoderDelay + 4096 // room for what trimming removes
	out := make([]float32, 0, min(max(total, 0), maxFrames))
	buf := make([]byte, 1152*bytesPerFrame*8)
	for n := 0; ; n++ {
		if n%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		k, rerr := io.ReadFull(dec, buf)
		k -= k % bytesPerFrame
		if int64(len(out)+k/bytesPerFrame) > maxFrames {
			return nil, lim.checkFrames(int64(len(out)+k/bytesPerFrame), h.rate)
		}
		for i := 0; i < k; i += bytesPerFrame {
			l := int16(binary.LittleEndian.Uint16(buf[i:]))
			r := int16(binary.LittleEndian.Uint16(buf[i+2:]))
			out = append(out, float32(int32(l)+int32(r))/(2<<15))
		}
		if rerr != nil {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if len(out) > 0 && errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			return nil, fmt.Errorf("%w: MP3: %v", ErrCorrupt, rerr)
		}
	}
	out = trimMP3(out, h, g)
	channels := 2
	if h.mono {
		channels = 1
	}
	return &pcm{samples: out, rate: h.rate, channels: channels, codec: "mp3"}, nil
}

// trimMP3 removes what the encoder and decoder added around the audio.
func trimMP3(out []float32, h mpegHeader, g gapless) []float32 {
	skip, tail := 0, 0
	if g.infoFrame {
		skip = h.samples
	}
	if g.delay > 0 || g.padding > 0 {
		skip += g.delay + mp3DecoderDelay
		tail = max(g.padding-mp3DecoderDelay, 0)
	}
	if skip+tail >= len(out) {
		return out[:0]
	}
	return out[skip : len(out)-tail]
}
