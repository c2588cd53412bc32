package speaker

import (
	"fmt"
	"math"
	"slices"

	"voxgate/features"
	"voxgate/tensor"
)

// mfccStats is the classical embedding trained by train/speaker/train_stats.py:
// MFCC c0..c(nceps-1) and their deltas over the speech frames, summarised by
// per-dimension mean (except that of c0, which only tracks the recording
// level, so the embedding is gain invariant) and standard deviation: 4*nceps-1
// statistics, projected by LDA to Dim.
type mfccStats struct {
	nceps   int
	dct     []float32 // [nceps][nmels] orthonormal DCT-II
	mean    []float32 // [4*nceps-1] training mean of the statistics
	proj    []float32 // [4*nceps-1][Dim] LDA projection
	embMean []float32 // [Dim] mean training embedding

	// Untrained parts beside the LDA part (v4 models: hb; v5: hb and ub),
	// each a cepBand written at its offset and scaled so that a cosine is the
	// weighted sum of the parts' cosines; nil: none.
	hb, ub    *cepBand
	wLDA      float32 // sqrt of the LDA part's weight
	hbOff     int     // embedding entry of hb's c1: the LDA part ends here
	ubOff     int     // embedding entry of ub's c1
	gateFirst int     // first mel band of the gate's upper bands (to the last)
	gateBias  float64 // gate = sigmoid((d + gateBias) / gateSlope)
	gateSlope float64
}

// cepBand is an untrained part of the embedding: the cepstral shape of nb
// mel bands from first on, each frame's spectral tilt removed,
// c1..c(nceps-1) averaged over the speech frames, standardised, unit length,
// times its weight. Emotion and vocal effort move the low bands and the tilt
// most and a speaker's formants above 1 kHz least: on RAVDESS the high band
// (centred in 1-3.4 kHz) alone is better than the trained part. The upper
// band (3.4-7.6 kHz) carries more of the same, but only where the audio has
// it: telephone and 8 kHz audio hold nothing there but the channel's edge or
// resampling artefacts, alike for every speaker of that channel, so its
// weight is gated by the measured bandwidth (mfccStats.gate) and a recording
// that lacks it is compared without it (Model.sim; train/speaker/RESULTS.md).
type cepBand struct {
	first  int       // first mel band
	nb     int       // bands used
	nceps  int       // cepstra computed, c0 dropped
	weight float32   // sqrt of the part's weight
	dct    []float32 // [nceps][nb] orthonormal DCT-II over the bands
	tilt   []float32 // [nb] centred ramp, unit length
	mean   []float32 // [nceps-1] training mean
	std    []float32 // [nceps-1] training standard deviation
}

func loadStats(f *modelFile, nmels, nceps int) (*mfccStats, error) {
	s := &mfccStats{nceps: nceps, dct: features.DCTMatrix(nmels, nceps)}
	var err error
	if s.mean, _, err = f.get("stats.mean", 4*nceps-1); err != nil {
		return nil, err
	}
	if s.proj, _, err = f.get("stats.projection", 4*nceps-1, Dim); err != nil {
		return nil, err
	}
	if s.embMean, _, err = f.get("emb.mean", Dim); err != nil {
		return nil, err
	}
	if err := s.loadBands(f, nmels); err != nil {
		return nil, err
	}
	return s, nil
}

// loadBands reads the untrained parts' parameters: none when metadata
// hb_num_ceps is absent or 0, no upper band when ub_num_ceps is.
func (s *mfccStats) loadBands(f *modelFile, nmels int) error {
	if n, ok := f.meta["hb_num_ceps"]; !ok || n == "0" {
		return nil
	}
	w, err := f.metaFloat("hb_weight")
	if err != nil {
		return err
	}
	wu := 0.0
	hasUB := f.meta["ub_num_ceps"] != "" && f.meta["ub_num_ceps"] != "0"
	if hasUB {
		if wu, err = f.metaFloat("ub_weight"); err != nil {
			return err
		}
	}
	if w <= 0 || wu < 0 || w+wu >= 1 {
		return fmt.Errorf("speaker: metadata hb_weight=%v, ub_weight=%v: want 0 < hb_weight, 0 <= ub_weight, sum < 1", w, wu)
	}
	s.wLDA = float32(math.Sqrt(w))
	if s.hb, s.hbOff, err = loadBand(f, "hb", nmels, 1-w-wu); err != nil {
		return err
	}
	end := s.hbOff + s.hb.nceps - 1
	if !hasUB {
		return nil
	}
	if s.ub, s.ubOff, err = loadBand(f, "ub", nmels, wu); err != nil {
		return err
	}
	if s.ubOff < end {
		return fmt.Errorf("speaker: upper band at %d overlaps the high band ending at %d", s.ubOff, end)
	}
	if s.gateFirst, err = f.metaInt("gate_first_band"); err != nil {
		return err
	}
	if s.gateBias, err = f.metaFloat("gate_bias"); err != nil {
		return err
	}
	if s.gateSlope, err = f.metaFloat("gate_slope"); err != nil {
		return err
	}
	if s.gateFirst < 0 || s.gateFirst >= nmels || !(s.gateSlope > 0) {
		return fmt.Errorf("speaker: gate (first band %d, slope %v) out of range", s.gateFirst, s.gateSlope)
	}
	return nil
}

// loadBand reads the part named prefix ("hb", "ub") and its embedding
// offset; weight is the share of the cosine it gets.
func loadBand(f *modelFile, prefix string, nmels int, weight float64) (*cepBand, int, error) {
	var h cepBand
	var off int
	for _, kv := range []struct {
		key string
		dst *int
	}{{"_num_ceps", &h.nceps}, {"_first_band", &h.first}, {"_bands", &h.nb}, {"_offset", &off}} {
		v, err := f.metaInt(prefix + kv.key)
		if err != nil {
			return nil, 0, err
		}
		*kv.dst = v
	}
	nb := h.nb
	if h.first < 0 || nb < 2 || h.first+nb > nmels || h.nceps < 2 || h.nceps > nb || h.nceps > 64 || off < 0 || off+h.nceps-1 > Dim {
		return nil, 0, fmt.Errorf("speaker: %s part (first band %d, %d cepstra at %d) does not fit", prefix, h.first, h.nceps, off)
	}
	h.weight = float32(math.Sqrt(weight))
	h.dct = features.DCTMatrix(nb, h.nceps)
	h.tilt = make([]float32, nb)
	var n float64
	for i := range h.tilt {
		r := float64(i) - float64(nb-1)/2
		h.tilt[i] = float32(r)
		n += r * r
	}
	for i := range h.tilt {
		h.tilt[i] /= float32(math.Sqrt(n))
	}
	var err error
	if h.mean, _, err = f.get(prefix+".mean", h.nceps-1); err != nil {
		return nil, 0, err
	}
	if h.std, _, err = f.get(prefix+".std", h.nceps-1); err != nil {
		return nil, 0, err
	}
	return &h, off, nil
}

// embed writes the part, times its weight and scale, into out
// ([nceps-1]). logmel is [frames][nmels]; use selects frames (nil: all).
func (h *cepBand) embed(w *statsWork, out, logmel []float32, nmels int, use []bool, scale float32) {
	nb := h.nb
	nc := h.nceps
	w.band = grow(w.band, nb)
	var sum [64]float64 // c1..c(nc-1)
	n := 0
	for t := 0; t < len(logmel)/nmels; t++ {
		if use != nil && !use[t] {
			continue
		}
		n++
		y := w.band
		copy(y, logmel[t*nmels+h.first:t*nmels+h.first+nb])
		var p float64
		for i, v := range y {
			p += float64(v) * float64(h.tilt[i])
		}
		for i := range y {
			y[i] -= float32(p) * h.tilt[i]
		}
		for k := 1; k < nc; k++ {
			var c float64
			for i, v := range y {
				c += float64(h.dct[k*nb+i]) * float64(v)
			}
			sum[k-1] += c
		}
	}
	g := out[:nc-1]
	var norm float64
	for k := range g {
		v := (sum[k]/float64(max(n, 1)) - float64(h.mean[k])) / float64(h.std[k])
		g[k] = float32(v)
		norm += v * v
	}
	if norm == 0 {
		return
	}
	f := float64(h.weight*scale) / math.Sqrt(norm)
	for k := range g {
		g[k] = float32(float64(g[k]) * f)
	}
}

// gate returns how much of the upper band the audio has, ~1 for wideband
// audio and ~0 for telephone-band audio: the median over the selected
// frames of the mean log-mel of the bands from gateFirst up minus that of
// the high band's, through a sigmoid.
func (s *mfccStats) gate(w *statsWork, logmel []float32, nmels int, use []bool) float32 {
	w.diff = w.diff[:0]
	lo, hi := s.hb.first, s.hb.first+s.hb.nb
	for t := 0; t < len(logmel)/nmels; t++ {
		if use != nil && !use[t] {
			continue
		}
		row := logmel[t*nmels : (t+1)*nmels]
		var up, mid float64
		for _, v := range row[s.gateFirst:] {
			up += float64(v)
		}
		for _, v := range row[lo:hi] {
			mid += float64(v)
		}
		w.diff = append(w.diff, up/float64(nmels-s.gateFirst)-mid/float64(hi-lo))
	}
	if len(w.diff) == 0 {
		return 0
	}
	slices.Sort(w.diff)
	n := len(w.diff)
	d := w.diff[n/2]
	if n%2 == 0 {
		d = (w.diff[n/2-1] + d) / 2
	}
	return float32(1 / (1 + math.Exp(-(d+s.gateBias)/s.gateSlope)))
}

// statsWork holds the per-call buffers.
type statsWork struct {
	ceps []float32
	band []float32 // [nb] one frame's bands of a cepBand
	diff []float64 // per-frame upper minus high band level, for the gate
}

// embed writes the normalised embedding of logmel ([frames][nmels]) into out
// ([Dim]); use selects frames (nil: all). Deltas are computed over every
// frame before selection, as in training.
func (s *mfccStats) embed(w *statsWork, out, logmel []float32, nmels int, use []bool) {
	nc := s.nceps
	nf := len(logmel) / nmels
	// ceps: [nf][nc]
	w.ceps = features.MFCC(w.ceps, logmel, nmels, nc)
	// sum and sum of squares of [ceps, deltas] over the selected frames, in float64
	var sum, sq [256]float64
	d := 2 * nc
	var delta [128]float32
	n := 0
	for t := 0; t < nf; t++ {
		if use != nil && !use[t] {
			continue
		}
		n++
		deltaAt(delta[:nc], w.ceps, nf, nc, t)
		c := w.ceps[t*nc : (t+1)*nc]
		for j := 0; j < nc; j++ {
			v, dv := float64(c[j]), float64(delta[j])
			sum[j] += v
			sq[j] += v * v
			sum[nc+j] += dv
			sq[nc+j] += dv * dv
		}
	}
	// stats [2d-1] = [means of dims 1..d-1; stds of dims 0..d-1] minus the training mean
	ns := 2*d - 1
	st := make([]float32, ns)
	for j := 0; j < d; j++ {
		m := sum[j] / float64(n)
		if j > 0 {
			st[j-1] = float32(m) - s.mean[j-1]
		}
		st[d-1+j] = float32(math.Sqrt(math.Max(sq[j]/float64(n)-m*m, 0))) - s.mean[d-1+j]
	}
	// out [1][Dim] = st [1][ns] · proj [ns][Dim]
	tensor.Gemm(false, 1, Dim, ns, 1, st, ns, s.proj, Dim, 0, out, Dim)
	normalize(out)
	for i := range out {
		out[i] -= s.embMean[i]
	}
	if s.hb == nil {
		return
	}
	normalize(out)
	for i := range out {
		out[i] *= s.wLDA
	}
	s.hb.embed(w, out[s.hbOff:], logmel, nmels, use, 1)
	if s.ub != nil {
		s.ub.embed(w, out[s.ubOff:], logmel, nmels, use, s.gate(w, logmel, nmels, use))
	}
}

// deltaAt writes the regression deltas (window +-2 frames, edge-padded) of
// the cepstra ceps ([nf][nc]) at frame t into dst ([nc]).
func deltaAt(dst, ceps []float32, nf, nc, t int) {
	at := func(u int) []float32 {
		u = min(max(u, 0), nf-1)
		return ceps[u*nc : (u+1)*nc]
	}
	m2, m1, p1, p2 := at(t-2), at(t-1), at(t+1), at(t+2)
	for j := range dst[:nc] {
		dst[j] = (-2*m2[j] - m1[j] + p1[j] + 2*p2[j]) / 10
	}
}
