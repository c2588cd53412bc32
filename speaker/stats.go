package speaker

import (
	"fmt"
	"math"

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
	hb      *highBand // the second, untrained part (v3 models); nil: none
}

// highBand is the second part of a v4 embedding: the cepstral shape of nb
// mel bands from first on (centred in 1-3.4 kHz), each frame's spectral tilt
// removed, c1..c(nceps-1) averaged over the speech frames and standardised.
// Emotion and vocal effort move the low bands and the tilt most and a
// speaker's formants above 1 kHz least: on RAVDESS this part alone is better
// than the trained one. It stops at 3.4 kHz, where telephone and 8 kHz audio
// end: bands beyond hold only the channel's edge or resampling artefacts,
// alike for every speaker of that channel (train/speaker/RESULTS.md).
type highBand struct {
	first  int       // first mel band
	nb     int       // bands used
	nceps  int       // cepstra computed, c0 dropped
	offset int       // embedding entry of c1: the LDA part's entries end here
	wLDA   float32   // sqrt(w): the LDA part's scale
	wHB    float32   // sqrt(1-w): this part's scale
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
	if s.hb, err = loadHighBand(f, nmels); err != nil {
		return nil, err
	}
	return s, nil
}

// loadHighBand reads the high-band part's parameters, nil when the model
// has none (metadata hb_num_ceps absent or 0).
func loadHighBand(f *modelFile, nmels int) (*highBand, error) {
	if n, ok := f.meta["hb_num_ceps"]; !ok || n == "0" {
		return nil, nil
	}
	var h highBand
	for _, kv := range []struct {
		key string
		dst *int
	}{{"hb_num_ceps", &h.nceps}, {"hb_first_band", &h.first}, {"hb_bands", &h.nb}, {"hb_offset", &h.offset}} {
		v, err := f.metaInt(kv.key)
		if err != nil {
			return nil, err
		}
		*kv.dst = v
	}
	w, err := f.metaFloat("hb_weight")
	if err != nil {
		return nil, err
	}
	if w <= 0 || w >= 1 {
		return nil, fmt.Errorf("speaker: metadata hb_weight=%v: want 0 < w < 1", w)
	}
	nb := h.nb
	if h.first < 0 || nb < 2 || h.first+nb > nmels || h.nceps < 2 || h.nceps > nb || h.offset < 0 || h.offset+h.nceps-1 > Dim {
		return nil, fmt.Errorf("speaker: high-band part (first band %d, %d cepstra at %d) does not fit", h.first, h.nceps, h.offset)
	}
	h.wLDA, h.wHB = float32(math.Sqrt(w)), float32(math.Sqrt(1-w))
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
	if h.mean, _, err = f.get("hb.mean", h.nceps-1); err != nil {
		return nil, err
	}
	if h.std, _, err = f.get("hb.std", h.nceps-1); err != nil {
		return nil, err
	}
	return &h, nil
}

// embed writes this part into out, whose LDA part is unit length and ends
// at h.offset, and weighs the two: out stays unit length. logmel is
// [frames][nmels]; use selects frames (nil: all).
func (h *highBand) embed(w *statsWork, out, logmel []float32, nmels int, use []bool) {
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
	for i := range out {
		out[i] *= h.wLDA
	}
	g := out[h.offset : h.offset+nc-1]
	var norm float64
	for k := range g {
		v := (sum[k]/float64(max(n, 1)) - float64(h.mean[k])) / float64(h.std[k])
		g[k] = float32(v)
		norm += v * v
	}
	if norm == 0 {
		return
	}
	scale := float64(h.wHB) / math.Sqrt(norm)
	for k := range g {
		g[k] = float32(float64(g[k]) * scale)
	}
}

// statsWork holds the per-call buffers.
type statsWork struct {
	ceps []float32
	band []float32 // [nb] one frame's high bands
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
	if s.hb != nil {
		normalize(out)
		s.hb.embed(w, out, logmel, nmels, use)
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
