package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mewkiz/flac"
)

// decodeFLAC decodes a native FLAC stream with github.com/mewkiz/flac and
// mixes it to mono. The duration bound is checked against the STREAMINFO
// sample count before allocating and against the running total while
// decoding (the count may be 0, meaning unknown). A stream cut inside its last
// frame keeps the frames before it.
func decodeFLAC(ctx context.Context, data []byte, lim limits) (p *pcm, err error) {
	defer guard("FLAC", &err)
	// flac.New skips metadata blocks without parsing them, so a hostile
	// picture or comment block cannot make it allocate.
	stream, err := flac.New(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: FLAC header: %v", ErrCorrupt, err)
	}
	info := stream.Info
	rate := int(info.SampleRate)
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	if info.NChannels == 0 {
		return nil, fmt.Errorf("%w: FLAC STREAMINFO declares 0 channels", ErrCorrupt)
	}
	maxFrames := lim.maxFrames(rate)
	if info.NSamples > 0 {
		if err := lim.checkFrames(int64(min(info.NSamples, 1<<62)), rate); err != nil {
			return nil, err
		}
	}
	// Preallocate what STREAMINFO announces, within the bound; a lying header
	// costs at most one bounded buffer.
	out := make([]float32, 0, min(int64(info.NSamples), maxFrames))
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		frame, err := stream.ParseNext()
		if err != nil {
			if err == io.EOF {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) && len(out) > 0 {
				break // truncated upload: keep what decoded cleanly
			}
			return nil, fmt.Errorf("%w: FLAC frame %d: %v", ErrCorrupt, n, err)
		}
		bps := uint(frame.BitsPerSample)
		if bps == 0 {
			bps = uint(info.BitsPerSample)
		}
		if bps == 0 || bps > 32 || len(frame.Subframes) == 0 {
			return nil, fmt.Errorf("%w: FLAC frame %d has %d bits per sample, %d channels", ErrCorrupt, n, bps, len(frame.Subframes))
		}
		// Full scale of a bps-bit sample, folded with the channel average.
		gain := 1 / (float64(uint64(1)<<(bps-1)) * float64(len(frame.Subframes)))
		nsamp := len(frame.Subframes[0].Samples)
		for _, sf := range frame.Subframes[1:] {
			nsamp = min(nsamp, len(sf.Samples))
		}
		if int64(len(out)+nsamp) > maxFrames {
			return nil, lim.checkFrames(int64(len(out)+nsamp), rate)
		}
		start := len(out)
		out = append(out, make([]float32, nsamp)...)
		dst := out[start:]
		if len(frame.Subframes) == 1 {
			for i, v := range frame.Subframes[0].Samples[:nsamp] {
				dst[i] = float32(float64(v) * gain)
			}
			continue
		}
		for i := range dst {
			var sum int64
			for _, sf := range frame.Subframes {
				sum += int64(sf.Samples[i])
			}
			dst[i] = float32(float64(sum) * gain)
		}
	}
	return &pcm{samples: out, rate: rate, channels: int(info.NChannels), codec: "flac"}, nil
}
