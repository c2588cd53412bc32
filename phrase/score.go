package phrase

import (
	"math"
	"sort"
	"strings"
)

// hypothesis is the best path of one search over one utterance. Scores
// are in pocketsphinx's integer log units (see natsPerUnit), frames are
// 10 ms.
type hypothesis struct {
	Text   string    // words of the best path, fillers and silences left out
	Score  int32     // path score: acoustic plus weighted grammar scores; noPath if none
	Frames int       // frames decoded
	Segs   []segment // every segment of the best path, fillers included
}

// segment is one word (or filler, or silence) of a best path.
type segment struct {
	Word       string
	Start, End int   // first and last frame, inclusive
	Acoustic   int32 // acoustic score of the segment
	Language   int32 // language/grammar score of the segment
}

// noPath is the Score of a search that reached no final state: a forced
// alignment of a prompt that does not fit the audio at all.
const noPath = -1 << 30

// natsPerUnit converts a grammar-search acoustic score to nats: scores
// are logarithms in base 1.0001 (pocketsphinx's -logbase), shifted right
// by 10 bits (SENSCR_SHIFT) for the senone scores.
var natsPerUnit = math.Log(1.0001) * 1024

// found reports whether the search reached a final state.
func (h *hypothesis) found() bool { return h.Score != noPath }

// acoustic sums the acoustic scores of every segment of h.
func (h *hypothesis) acoustic() int64 {
	var s int64
	for _, g := range h.Segs {
		s += int64(g.Acoustic)
	}
	return s
}

// acousticIn is the acoustic score h spends on frames first..last, each
// segment counted in proportion to its overlap with them.
func (h *hypothesis) acousticIn(first, last int) float64 {
	var s float64
	for _, g := range h.Segs {
		lo, hi := max(g.Start, first), min(g.End, last)
		if hi >= lo {
			s += float64(g.Acoustic) * float64(hi-lo+1) / float64(g.End-g.Start+1)
		}
	}
	return s
}

// isFiller reports whether a path word is silence, noise or a phone of the
// loop that stands in for an out-of-vocabulary word.
func isFiller(w string) bool {
	return strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "phn_") || strings.HasPrefix(w, "++")
}

// words lists the words of a path, alternative pronunciation markers
// ("the(2)"), fillers and grammar null transitions ("(NULL)") removed.
func (h *hypothesis) words() []string {
	var ws []string
	for _, g := range h.Segs {
		if isFiller(g.Word) || g.Word == "(NULL)" {
			continue
		}
		w := g.Word
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		ws = append(ws, w)
	}
	return ws
}

// llr scores a forced alignment against free decodes of the same audio:
// (alignment acoustic score - best competitor acoustic score) / speech
// frames, in nats per 10 ms frame of speech. The competitors (a phone
// loop, a digit loop) may say anything, so a prompt that was said loses
// little to them and a prompt that was not loses wherever its words do
// not fit.
//
// The divisor is the frames the alignment gives to words, not all frames:
// silence scores about the same in every search, so dividing by the whole
// duration would let leading and trailing silence pull any utterance's
// score towards zero, and padding a wrong answer with silence would raise
// it past the threshold.
//
// A per-word variant (the worst word's ratio over its own frames, the
// competitors prorated by overlap) was measured too and did not help
// (docs/ACCURACY.md).
func llr(align hypothesis, competitors ...hypothesis) float64 {
	speech := 0
	for _, g := range align.Segs {
		if !isFiller(g.Word) {
			speech += g.End - g.Start + 1
		}
	}
	if speech == 0 || !align.found() {
		return math.Inf(-1)
	}
	a := float64(align.acoustic())
	best := math.Inf(-1)
	for _, c := range competitors {
		if c.found() {
			best = max(best, float64(c.acoustic()))
		}
	}
	if math.IsInf(best, -1) {
		// No competitor reached its end: judge the alignment neutral.
		best = a
	}
	return (a - best) / float64(speech) * natsPerUnit
}

// EER is the equal error rate of a detector: scores of trials, match[i]
// true where trial i is a true match (prompt spoken). It returns the rate
// at the threshold where the false rejection rate (matches scored below
// threshold) and false acceptance rate (mismatches at or above it) are
// closest, their mean there, and that threshold.
func EER(scores []float64, match []bool) (eer, threshold float64) {
	type trial struct {
		s float64
		m bool
	}
	ts := make([]trial, len(scores))
	var nm, nn int
	for i, s := range scores {
		ts[i] = trial{s, match[i]}
		if match[i] {
			nm++
		} else {
			nn++
		}
	}
	if nm == 0 || nn == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].s < ts[j].s })
	// Sweep thresholds upward: at ts[i].s, trials below i are rejected.
	bestGap := math.Inf(1)
	var rej, acc int = 0, nn // matches rejected, mismatches accepted
	for i := 0; i <= len(ts); i++ {
		if i == 0 || i == len(ts) || ts[i].s != ts[i-1].s {
			frr := float64(rej) / float64(nm)
			far := float64(acc) / float64(nn)
			if gap := math.Abs(frr - far); gap < bestGap {
				bestGap = gap
				eer = (frr + far) / 2
				switch {
				case i == len(ts):
					threshold = math.Nextafter(ts[i-1].s, math.Inf(1))
				default:
					threshold = ts[i].s
				}
			}
		}
		if i < len(ts) {
			if ts[i].m {
				rej++
			} else {
				acc--
			}
		}
	}
	return eer, threshold
}

// Rates returns the false rejection and false acceptance rates of
// deciding "match" for scores >= threshold.
func Rates(scores []float64, match []bool, threshold float64) (frr, far float64) {
	var nm, nn, rej, acc int
	for i, s := range scores {
		if match[i] {
			nm++
			if s < threshold {
				rej++
			}
		} else {
			nn++
			if s >= threshold {
				acc++
			}
		}
	}
	if nm > 0 {
		frr = float64(rej) / float64(nm)
	}
	if nn > 0 {
		far = float64(acc) / float64(nn)
	}
	return frr, far
}

// Calibration of Score, fitted on the development sets (docs/ACCURACY.md):
// Score = llr - offset, so that 0 is near the equal-error point. A spoken
// prompt still scores below the free phone loop (llr < 0): the loop may
// pick any phone, the prompt may not. The equal-error points of wideband
// (ravdess, llr -1.41) and narrowband (asterisk-phrases, -1.40) speech
// agree, so both offsets are the same today; they stay separate so that a
// model or front end that treats bandwidths differently can be
// recalibrated without an API change.
const (
	offsetWideband   = -1.40 // sourceRate >= 16 kHz
	offsetNarrowband = -1.40 // sourceRate <= 8 kHz
	// confidenceScale is the Score distance over which Confidence moves
	// from 0.5 to about 0.73.
	confidenceScale = 0.25
)

// calibrate turns an llr of audio recorded at sourceRate into Score.
func calibrate(llr float64, sourceRate int) float64 {
	off := offsetWideband
	switch {
	case sourceRate <= 0 || sourceRate >= 16000:
	case sourceRate <= 8000:
		off = offsetNarrowband
	default:
		f := float64(sourceRate-8000) / 8000
		off = offsetNarrowband + f*(offsetWideband-offsetNarrowband)
	}
	return llr - off
}

// cleanHypothesis drops the grammar's null-transition markers ("(NULL)",
// which JSGF searches emit between words) and folds white space, leaving
// only spoken words for diagnostics.
func cleanHypothesis(text string) string {
	words := strings.Fields(text)
	out := words[:0]
	for _, w := range words {
		if w != "(NULL)" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}
