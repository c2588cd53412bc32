package features

import "sort"

// EnergyVAD marks speech frames from per-frame log energies in dB (as
// returned by LogMel). It is a fallback for callers without a neural VAD mask.
//
// A frame is speech when its energy exceeds the highest of: an absolute floor
// of -60 dB (digital silence), the loudest frame minus 30 dB, and the 10th
// percentile of the clip (a noise-floor estimate) plus 6 dB. The raw decisions
// are then smoothed by a majority vote over 11 frames (110 ms). When no frame
// passes, the clip is judged to have no speech and every entry is false.
func EnergyVAD(dst []bool, energy []float32) []bool {
	n := len(energy)
	if cap(dst) < n {
		dst = make([]bool, n)
	}
	dst = dst[:n]
	if n == 0 {
		return dst
	}
	sorted := append([]float32(nil), energy...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	thr := float32(-60)
	if v := sorted[n-1] - 30; v > thr {
		thr = v
	}
	if v := sorted[n/10] + 6; v > thr {
		thr = v
	}
	raw := make([]bool, n)
	for i, e := range energy {
		raw[i] = e > thr
	}
	const half = 5
	count := 0
	for i := 0; i < n && i <= half; i++ {
		if raw[i] {
			count++
		}
	}
	for i := 0; i < n; i++ {
		// count holds raw decisions in [i-half, i+half]
		lo, hi := i-half, i+half
		if lo < 0 {
			lo = 0
		}
		if hi > n-1 {
			hi = n - 1
		}
		dst[i] = 2*count > hi-lo+1
		if i-half >= 0 && raw[i-half] {
			count--
		}
		if i+half+1 < n && raw[i+half+1] {
			count++
		}
	}
	return dst
}
