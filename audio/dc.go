package audio

import "math"

// dcPole is the pole of the DC-blocking filter: at 16 kHz its -3 dB point is
// 1-dcPole times Rate/(2π), 10 Hz, far under any voice (the lowest male
// fundamentals are about 70 Hz), so speech passes untouched.
const dcPole = 1 - 2*math.Pi*10/Rate

// RemoveDC removes a recording's DC offset in place: the mean first, then
// what drifts, with a one-pole high-pass at 10 Hz (y[n] = x[n] - x[n-1] +
// dcPole*y[n-1]). Some microphones and sound cards add a constant to every
// sample (AudioMNIST-AZ's recordings sit at -0.085 of full scale); kept, it
// reads as loud noise to an energy-based SNR estimate and hides speech from
// voice activity detection. The samples are 16 kHz (a Clip's); NaN and
// infinite samples are left to the caller's own checks and do not spread.
func RemoveDC(x []float32) {
	if len(x) == 0 {
		return
	}
	var sum float64
	n := 0
	for _, v := range x {
		if finite(v) {
			sum += float64(v)
			n++
		}
	}
	if n == 0 {
		return
	}
	mean := sum / float64(n)
	var prev, y float64 // x[n-1] and y[n-1], after the mean is removed
	for i, v := range x {
		if !finite(v) {
			continue
		}
		cur := float64(v) - mean
		y = cur - prev + dcPole*y
		prev = cur
		x[i] = float32(y)
	}
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float32) bool {
	return v == v && v <= math.MaxFloat32 && v >= -math.MaxFloat32
}
