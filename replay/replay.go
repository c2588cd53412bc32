// Package replay owns perceptual audio fingerprints: compact summaries of a
// recording that survive re-encoding (MP3, Opus), resampling, gain changes,
// added noise and trimming, so that a recording submitted a second time is
// recognised as a replay of the first, while a new take of the same sentence
// by the same speaker is not.
//
// The fingerprint is a landmark fingerprint in the manner of Wang (2003): the
// spectrogram's salient local maxima ("peaks") between 250 Hz and 3 kHz are
// paired with nearby later peaks, and each pair becomes a 21-bit hash of
// (anchor frequency, frequency difference, time difference) stored with the
// anchor's time. Two recordings match when many hashes agree on one time
// offset between them. A fresh take of a sentence shares words, pitch and
// timing only approximately, and approximate is not enough: the exact spectral
// fine structure that the hashes quantise is what a replay keeps and a new
// take does not. The 3 kHz ceiling keeps the hashes alive through an 8 kHz
// telephone path and low-bitrate codecs; peaks are only taken within 40 dB
// of the loudest, which is what a codec or added noise leaves in place.
//
// Trimming shifts a recording by an arbitrary number of samples, which moves
// every spectrogram frame and with it the peaks. Compute therefore analyses
// four grids offset by a quarter hop (4 ms) and keeps the landmarks of all:
// any shifted copy lies within 2 ms of one of them.
//
// A fingerprint holds hashes and times only, never audio: the recording can
// not be reconstructed from it.
package replay

import (
	"math"
	"slices"
)

// Version is the fingerprint format and algorithm version, written as the
// first byte of MarshalBinary's output. Fingerprints of different versions
// are not comparable; UnmarshalBinary rejects other versions.
const Version = 1

// SampleRate is the rate, in Hz, of the samples Compute expects.
const SampleRate = 16000

// Fingerprint is the landmark fingerprint of one recording. The zero value is
// the fingerprint of silence: it matches nothing.
type Fingerprint struct {
	samples int      // length of the recording, samples at 16 kHz
	marks   []uint64 // hash<<32 | anchor time in hop/phases steps (4 ms), sorted ascending
}

// Match is the outcome of comparing two fingerprints.
type Match struct {
	// Similarity is the share, 0..1, of the smaller fingerprint's landmarks
	// that the other holds at one consistent time offset. Distinct takes of
	// one sentence by one speaker score at most 0.088 on RAVDESS; replays
	// through the promised transforms at least 0.148 (Opus at 12 kbit/s,
	// the hardest), most above 0.4. Replay is decided at 0.12.
	Similarity float64
	// OffsetSeconds is where b's content starts within a (a time minus b
	// time, seconds); negative when b starts earlier. Meaningful only when
	// Replay is true.
	OffsetSeconds float64
	// Replay reports that a and b are the same recording, possibly
	// re-encoded, resampled, re-levelled, noisier or trimmed.
	Replay bool
}

// params are the analysis constants. They are fixed per Version; the struct
// exists so that tests can measure alternatives side by side.
type params struct {
	win, hop     int     // STFT frame and hop, samples at 16 kHz
	phases       int     // analysis grids, offset by hop/phases samples each
	loBin, hiBin int     // analysed FFT bins [loBin, hiBin); hiBin-loBin <= 256
	peakF, peakT int     // peak neighbourhood half-widths: bins, frames
	floorDB      float64 // peaks quieter than the loudest by more are dropped
	perFrame     int     // at most this many peaks per frame (the strongest)
	fanout       int     // targets paired with each anchor
	maxDT        int     // target zone: 1..maxDT frames after the anchor (<= 63)
	maxDF        int     // target zone: |Δbin| <= maxDF (<= 63)
	tol          int     // offsets within ±tol frames count as one (per grid)
	maxRun       int     // equal-hash runs with more pairs are ignored (tones; bounds hostile input)
	minMatches   int     // a replay needs at least this many agreeing landmarks
	threshold    float64 // and at least this similarity
}

// defaults are Version 1's constants, chosen on RAVDESS (see the package
// tests): 32 ms frames on a 16 ms hop analysed on four grids 4 ms apart, so
// that a recording trimmed by any number of samples is at most 2 ms off one
// of them; peaks between 250 Hz and 3 kHz, at most one per 750 Hz × 112 ms,
// and within 40 dB of the loudest, which keeps those a codec preserves.
var defaults = params{
	win: 512, hop: 256, phases: 4,
	loBin: 8, hiBin: 96,
	peakF: 12, peakT: 3,
	floorDB:  40,
	perFrame: 4,
	fanout:   6,
	maxDT:    25, maxDF: 40,
	tol:        1,
	maxRun:     256,
	minMatches: 12,
	threshold:  0.12,
}

// silenceDB is the level (dB relative to full-scale power) below which a
// spectrogram cell is treated as digital silence and never yields a peak.
const silenceDB = -110

// Compute returns the fingerprint of samples: mono, 16 kHz, nominally in
// [-1, 1]. Only level ratios within a recording matter, so any gain that
// keeps speech above -110 dB full scale gives the same fingerprint.
// Recordings shorter than one analysis frame (32 ms) or silent yield an
// empty fingerprint, which matches nothing. Compute costs about 10 ms per
// second of audio and is safe for concurrent use.
func Compute(samples []float32) Fingerprint {
	return compute(samples, &defaults)
}

func compute(samples []float32, p *params) Fingerprint {
	fp := Fingerprint{samples: len(samples)}
	for ph := range p.phases {
		off := ph * p.hop / p.phases
		if len(samples)-off < p.win {
			break
		}
		fp.marks = append(fp.marks, analyse(samples[off:], ph, p)...)
	}
	slices.Sort(fp.marks)
	fp.marks = slices.Compact(fp.marks)
	return fp
}

// analyse returns the landmarks of one analysis grid, with anchor times in
// units of hop/phases samples: frame·phases + phase.
func analyse(samples []float32, phase int, p *params) []uint64 {
	nFrames := 1 + (len(samples)-p.win)/p.hop
	nBins := p.hiBin - p.loBin

	// spec: [nFrames][nBins] log power, dB.
	spec := make([]float64, nFrames*nBins)
	tr := newFFT(p.win)
	window := make([]float64, p.win)
	for i := range window {
		window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(p.win))
	}
	frame := make([]float64, p.win)
	pow := make([]float64, p.hiBin)
	loudest := math.Inf(-1)
	for t := range nFrames {
		x := samples[t*p.hop : t*p.hop+p.win]
		for i, v := range x {
			frame[i] = float64(v) * window[i]
		}
		tr.power(frame, pow)
		row := spec[t*nBins : (t+1)*nBins]
		for k := range row {
			db := 10 * math.Log10(pow[p.loBin+k]+1e-12)
			row[k] = db
			if db > loudest {
				loudest = db
			}
		}
	}
	floor := max(loudest-p.floorDB, silenceDB)

	peaks := findPeaks(spec, nFrames, nBins, floor, p)
	return pairPeaks(peaks, phase, p)
}

// peak is a spectrogram local maximum: frame t, bin f (relative to loBin).
type peak struct {
	t, f int
	db   float64
}

// findPeaks returns the cells of spec ([nFrames][nBins], dB) that are the
// maximum of their (2·peakF+1)×(2·peakT+1) neighbourhood and louder than
// floor, at most perFrame per frame, ordered by frame then bin.
func findPeaks(spec []float64, nFrames, nBins int, floor float64, p *params) []peak {
	// Separable max filter: along frequency into fmax, then along time into
	// tmax, both [nFrames][nBins].
	fmax := make([]float64, len(spec))
	for t := range nFrames {
		row, out := spec[t*nBins:(t+1)*nBins], fmax[t*nBins:(t+1)*nBins]
		for k := range row {
			m := row[k]
			for j := max(0, k-p.peakF); j <= min(nBins-1, k+p.peakF); j++ {
				m = max(m, row[j])
			}
			out[k] = m
		}
	}
	var peaks []peak
	var cand []peak
	for t := range nFrames {
		cand = cand[:0]
		lo, hi := max(0, t-p.peakT), min(nFrames-1, t+p.peakT)
		for k := range nBins {
			v := spec[t*nBins+k]
			if v <= floor || v < fmax[t*nBins+k] {
				continue
			}
			isMax := true
			for u := lo; u <= hi && isMax; u++ {
				if fmax[u*nBins+k] > v {
					isMax = false
				}
			}
			if isMax {
				cand = append(cand, peak{t, k, v})
			}
		}
		if len(cand) > p.perFrame {
			slices.SortFunc(cand, func(a, b peak) int {
				if a.db != b.db {
					if a.db > b.db {
						return -1
					}
					return 1
				}
				return a.f - b.f
			})
			cand = cand[:p.perFrame]
			slices.SortFunc(cand, func(a, b peak) int { return a.f - b.f })
		}
		peaks = append(peaks, cand...)
	}
	return peaks
}

// Hash layout: anchor bin (up to 8 bits) | Δbin+64 (7 bits) | Δframes (6 bits).
const hashBits = 21

// pairPeaks pairs each anchor with up to fanout later peaks in its target
// zone and returns the sorted landmarks hash<<32 | anchor frame.
func pairPeaks(peaks []peak, phase int, p *params) []uint64 {
	marks := make([]uint64, 0, len(peaks)*p.fanout)
	for i, a := range peaks {
		n := 0
		for j := i + 1; j < len(peaks) && n < p.fanout; j++ {
			b := peaks[j]
			dt := b.t - a.t
			if dt > p.maxDT {
				break
			}
			df := b.f - a.f
			if dt == 0 || df < -p.maxDF || df > p.maxDF {
				continue
			}
			h := uint64(a.f)<<13 | uint64(df+64)<<6 | uint64(dt)
			marks = append(marks, h<<32|uint64(a.t*p.phases+phase))
			n++
		}
	}
	return marks
}

// Duration returns the length of the fingerprinted recording in seconds.
func (f Fingerprint) Duration() float64 { return float64(f.samples) / SampleRate }

// Len returns the number of landmarks in f.
func (f Fingerprint) Len() int { return len(f.marks) }

// Compare reports how much of a and b is one and the same recording. It is
// symmetric up to the sign of OffsetSeconds, costs O(n log n) in the number
// of shared hashes and allocates only for those, so a profile holding
// hundreds of fingerprints can be scanned per request.
func Compare(a, b Fingerprint) Match {
	return compare(a, b, &defaults)
}

func compare(a, b Fingerprint, p *params) Match {
	n := min(len(a.marks), len(b.marks))
	if n == 0 {
		return Match{}
	}
	// hits: offset<<32 | index into a, for every pair of equal hashes.
	var hits []int64
	i, j := 0, 0
	for i < len(a.marks) && j < len(b.marks) {
		ha, hb := a.marks[i]>>32, b.marks[j]>>32
		switch {
		case ha < hb:
			i++
			continue
		case ha > hb:
			j++
			continue
		}
		ie, je := i+1, j+1
		for ie < len(a.marks) && a.marks[ie]>>32 == ha {
			ie++
		}
		for je < len(b.marks) && b.marks[je]>>32 == hb {
			je++
		}
		if (ie-i)*(je-j) <= p.maxRun {
			for x := i; x < ie; x++ {
				ta := int64(uint32(a.marks[x]))
				for y := j; y < je; y++ {
					tb := int64(uint32(b.marks[y]))
					hits = append(hits, (ta-tb)<<32|int64(x))
				}
			}
		}
		i, j = ie, je
	}
	if len(hits) == 0 {
		return Match{}
	}
	slices.Sort(hits)

	// Slide a window of 2·tol+1 frames over the sorted offsets and keep the
	// one holding the most hits.
	w := int64(2 * p.tol * p.phases)
	best, bestLo, bestHi := 0, 0, 0
	lo := 0
	for hi := range hits {
		for hits[hi]>>32-hits[lo]>>32 > w {
			lo++
		}
		if c := hi - lo + 1; c > best {
			best, bestLo, bestHi = c, lo, hi+1
		}
	}
	// Count distinct landmarks of a in the winning window: a stationary
	// sound repeats one hash at neighbouring frames and must not count twice.
	win := hits[bestLo:bestHi]
	idx := make([]int32, len(win))
	for k, h := range win {
		idx[k] = int32(uint32(h))
	}
	slices.Sort(idx)
	distinct := len(slices.Compact(idx))
	// The offset is the window's median, which is exact for a replay cut at
	// a multiple of the grid step and keeps Compare antisymmetric in it.
	off := float64(win[(len(win)-1)/2]>>32+win[len(win)/2]>>32) / 2

	m := Match{Similarity: min(1, float64(distinct)/float64(n))}
	m.OffsetSeconds = off * float64(p.hop) / float64(p.phases) / SampleRate
	m.Replay = distinct >= p.minMatches && m.Similarity >= p.threshold
	return m
}
