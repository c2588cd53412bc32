package vad

import "time"

// Options tunes Segments. The zero value gives the defaults of upstream
// Silero's get_speech_timestamps.
type Options struct {
	// Threshold is the probability at or above which a chunk starts or
	// continues speech. Zero means 0.5.
	Threshold float64
	// NegThreshold is the probability below which a chunk counts as
	// silence inside speech (hysteresis: between the two nothing changes).
	// Zero means max(Threshold-0.15, 0.01).
	NegThreshold float64
	// MinSpeech drops segments not longer than this. Zero means 250 ms;
	// negative means keep every segment.
	MinSpeech time.Duration
	// MinSilence is how long silence must last to end a segment. Zero
	// means 100 ms; negative means any silence chunk ends it.
	MinSilence time.Duration
	// Pad widens each segment on both sides (halving gaps narrower than
	// two pads instead). Zero means 30 ms; negative means no padding.
	Pad time.Duration
}

// Segment is a stretch of speech, in seconds from the start of the audio.
type Segment struct {
	Start, End float64
}

// samples converts a duration option to 16 kHz samples: def when zero,
// 0 when negative.
func samples(d, def time.Duration) int {
	switch {
	case d == 0:
		d = def
	case d < 0:
		return 0
	}
	return int(d * SampleRate / time.Second)
}

// Segments turns per-chunk probabilities (one per ChunkSize samples, as
// from Probs) into speech segments, following upstream Silero's
// get_speech_timestamps: speech starts at the first chunk at or above
// Threshold, ends once probabilities stay below NegThreshold for
// MinSilence, segments not longer than MinSpeech are dropped, and the rest
// are padded by Pad, splitting gaps narrower than two pads between their
// neighbours. The audio is taken to be len(probs)*ChunkSize samples long.
func Segments(probs []float32, opt Options) []Segment {
	thr := opt.Threshold
	if thr == 0 {
		thr = 0.5
	}
	neg := opt.NegThreshold
	if neg == 0 {
		neg = max(thr-0.15, 0.01)
	}
	minSpeech := samples(opt.MinSpeech, 250*time.Millisecond)
	minSilence := samples(opt.MinSilence, 100*time.Millisecond)
	pad := samples(opt.Pad, 30*time.Millisecond)
	total := len(probs) * ChunkSize

	// Hysteresis pass, in samples.
	type span struct{ start, end int }
	var spans []span
	triggered := false
	start, tempEnd := 0, -1 // tempEnd: start of the current silence run, -1 if none
	for i, p := range probs {
		pos := i * ChunkSize
		if float64(p) >= thr {
			tempEnd = -1
			if !triggered {
				triggered, start = true, pos
			}
			continue
		}
		if !triggered || float64(p) >= neg {
			continue
		}
		if tempEnd < 0 {
			tempEnd = pos
		}
		if pos-tempEnd < minSilence {
			continue
		}
		if tempEnd-start > minSpeech {
			spans = append(spans, span{start, tempEnd})
		}
		triggered, tempEnd = false, -1
	}
	if triggered && total-start > minSpeech {
		spans = append(spans, span{start, total})
	}

	// Padding, splitting narrow gaps between neighbours.
	for i := range spans {
		if i == 0 {
			spans[i].start = max(0, spans[i].start-pad)
		}
		if i == len(spans)-1 {
			spans[i].end = min(total, spans[i].end+pad)
			continue
		}
		gap := spans[i+1].start - spans[i].end
		if gap < 2*pad {
			spans[i].end += gap / 2
			spans[i+1].start = max(0, spans[i+1].start-gap/2)
		} else {
			spans[i].end = min(total, spans[i].end+pad)
			spans[i+1].start = max(0, spans[i+1].start-pad)
		}
	}
	segs := make([]Segment, len(spans))
	for i, s := range spans {
		segs[i] = Segment{Start: float64(s.start) / SampleRate, End: float64(s.end) / SampleRate}
	}
	return segs
}

// SpeechSeconds returns the total length of segs in seconds.
func SpeechSeconds(segs []Segment) float64 {
	var s float64
	for _, g := range segs {
		s += g.End - g.Start
	}
	return s
}

// Mask returns, for n consecutive frames of frameLen samples at 16 kHz, true
// where the frame's centre lies inside a segment. It lets frame-based
// quality measures (SNR, loudness) look at speech frames only. segs must be
// sorted and non-overlapping, as Segments returns them.
func Mask(segs []Segment, n, frameLen int) []bool {
	mask := make([]bool, max(n, 0))
	j := 0
	for i := range mask {
		centre := (float64(i)*float64(frameLen) + float64(frameLen)/2) / SampleRate
		for j < len(segs) && segs[j].End <= centre {
			j++
		}
		mask[i] = j < len(segs) && segs[j].Start <= centre
	}
	return mask
}
