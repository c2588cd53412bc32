package vad

import (
	"math"
	"slices"
	"testing"
	"time"
)

// probsOf builds a probability sequence of n chunks at 0.05 with the given
// runs [from, to) set to p.
func probsOf(n int, runs ...struct {
	from, to int
	p        float32
}) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 0.05
	}
	for _, r := range runs {
		for i := r.from; i < r.to; i++ {
			x[i] = r.p
		}
	}
	return x
}

type run = struct {
	from, to int
	p        float32
}

// seg builds a Segment from sample positions.
func seg(start, end int) Segment {
	return Segment{Start: float64(start) / SampleRate, End: float64(end) / SampleRate}
}

func TestSegments(t *testing.T) {
	const c = ChunkSize // samples per probability
	tests := []struct {
		name  string
		probs []float32
		opt   Options
		want  []Segment
	}{
		{"silence gives nothing", probsOf(50), Options{}, nil},
		{"empty input", nil, Options{}, nil},
		{"speech is padded by 30 ms",
			probsOf(50, run{10, 30, 0.9}), Options{},
			[]Segment{seg(10*c-480, 30*c+480)}},
		{"speech not longer than 250 ms is dropped",
			probsOf(50, run{10, 17, 0.9}), Options{}, nil},
		{"speech from the first chunk is clipped at zero",
			probsOf(50, run{0, 20, 0.9}), Options{},
			[]Segment{seg(0, 20*c+480)}},
		{"speech running to the end is clipped at the end",
			probsOf(50, run{40, 50, 0.9}), Options{},
			[]Segment{seg(40*c-480, 50*c)}},
		{"probabilities between the thresholds keep speech going",
			probsOf(60, run{10, 20, 0.9}, run{20, 30, 0.4}, run{30, 40, 0.9}), Options{},
			[]Segment{seg(10*c-480, 40*c+480)}},
		{"probabilities between the thresholds do not start speech",
			probsOf(60, run{10, 40, 0.45}), Options{}, nil},
		{"silence shorter than 100 ms does not split",
			probsOf(80, run{10, 30, 0.9}, run{33, 53, 0.9}), Options{},
			[]Segment{seg(10*c-480, 53*c+480)}},
		{"silence of 100 ms splits",
			// silence must last from chunk 30 to chunk 34 (2048 >= 1600
			// samples) to end speech; the gap is wider than two pads
			probsOf(80, run{10, 30, 0.9}, run{35, 55, 0.9}), Options{},
			[]Segment{seg(10*c-480, 30*c+480), seg(35*c-480, 55*c+480)}},
		{"silence just under 100 ms does not split",
			probsOf(80, run{10, 30, 0.9}, run{34, 54, 0.9}), Options{},
			[]Segment{seg(10*c-480, 54*c+480)}},
		{"a gap narrower than two pads is shared",
			probsOf(60, run{10, 30, 0.9}, run{31, 51, 0.9}),
			Options{MinSilence: -1, Pad: 64 * time.Millisecond},
			[]Segment{seg(10*c-1024, 30*c+256), seg(30*c+256, 51*c+1024)}},
		{"negative durations switch filtering and padding off",
			probsOf(20, run{5, 6, 0.9}), Options{MinSpeech: -1, MinSilence: -1, Pad: -1},
			[]Segment{seg(5*c, 6*c)}},
		{"threshold is configurable",
			probsOf(50, run{10, 30, 0.7}), Options{Threshold: 0.8}, nil},
		{"negative threshold is configurable",
			probsOf(60, run{10, 20, 0.9}, run{20, 30, 0.3}, run{30, 40, 0.9}),
			Options{NegThreshold: 0.2},
			[]Segment{seg(10*c-480, 40*c+480)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Segments(tc.probs, tc.opt)
			if len(got) != len(tc.want) {
				t.Fatalf("Segments = %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i].Start-tc.want[i].Start) > 1e-9 || math.Abs(got[i].End-tc.want[i].End) > 1e-9 {
					t.Fatalf("Segments = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSpeechSecondsSumsSegments(t *testing.T) {
	got := SpeechSeconds([]Segment{{0.5, 1.25}, {2, 2.5}})
	if math.Abs(got-1.25) > 1e-12 {
		t.Errorf("SpeechSeconds = %v, want 1.25", got)
	}
	if SpeechSeconds(nil) != 0 {
		t.Error("SpeechSeconds(nil) != 0")
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name     string
		segs     []Segment
		n, frame int
		want     []int // indices that are speech
	}{
		{"no segments", nil, 5, 160, nil},
		{"frame centres inside a segment", []Segment{{0.1, 0.2}}, 30, 160, []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		{"two segments", []Segment{{0, 0.02}, {0.05, 0.07}}, 10, 160, []int{0, 1, 5, 6}},
		{"segment past the frames", []Segment{{0.03, 9}}, 5, 160, []int{3, 4}},
		{"no frames", []Segment{{0, 1}}, 0, 160, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Mask(tc.segs, tc.n, tc.frame)
			if len(got) != tc.n {
				t.Fatalf("len = %d, want %d", len(got), tc.n)
			}
			var idx []int
			for i, v := range got {
				if v {
					idx = append(idx, i)
				}
			}
			if !slices.Equal(idx, tc.want) {
				t.Errorf("speech frames %v, want %v", idx, tc.want)
			}
		})
	}
}
