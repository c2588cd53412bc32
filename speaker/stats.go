package speaker

import (
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
	return s, nil
}

// statsWork holds the per-call buffers.
type statsWork struct {
	ceps []float32
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
