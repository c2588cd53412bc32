package audio

import (
	"fmt"
	"math"

	"github.com/viterin/vek/vek32"
)

// Resampler design. The anti-aliasing low-pass passes everything up to
// passFrac of the lower Nyquist frequency within ±0.01 dB, and is at least
// stopAtten dB down from the lower Nyquist frequency on, so nothing folds back
// into the band it keeps (for 48 -> 16 kHz: flat to 7.2 kHz, -80 dB from 8 kHz).
const (
	passFrac  = 0.9
	stopAtten = 80.0 // dB
	// maxPhases bounds the exact polyphase table. Ratios whose reduced
	// numerator L is larger (e.g. 47999 -> 16000) use interpPhases+1 rows
	// and interpolate linearly between them; the kernel is smooth enough at
	// that spacing for the error to stay below the stop-band level.
	maxPhases    = 1024
	interpPhases = 256
)

// Resampler converts sample rates with a windowed-sinc polyphase filter
// (Kaiser window) for the rational ratio L/M = to/from reduced by their gcd.
// Build one with [NewResampler] to reuse its filter table across calls; it is
// safe for concurrent use.
type Resampler struct {
	from, to int
	l, m     int       // to/from = l/m, reduced
	taps     int       // coefficients per output sample (even)
	phases   int       // rows in coef
	interp   bool      // phases quantised: interpolate between rows
	coef     []float32 // [phases(+1)][taps], row p for fractional delay p/phases
}

// NewResampler returns a resampler from one rate to another, both in Hz.
// It panics if either rate is not positive.
func NewResampler(from, to int) *Resampler {
	if from <= 0 || to <= 0 {
		panic(fmt.Sprintf("audio: NewResampler(%d, %d): rates must be positive", from, to))
	}
	g := gcd(from, to)
	r := &Resampler{from: from, to: to, l: to / g, m: from / g}
	if from == to {
		return r
	}
	// Work in input-sample time: the cut-off (cycles per input sample) sits
	// halfway through the transition band, which runs from passFrac of the
	// lower Nyquist to the lower Nyquist.
	nyq := float64(min(from, to)) / 2
	fc := (1 + passFrac) / 2 * nyq / float64(from)
	width := (1 - passFrac) * nyq / float64(from)
	// Kaiser's estimates for the window's shape and length.
	beta := 0.1102 * (stopAtten - 8.7)
	n := (stopAtten - 7.95) / (2.285 * 2 * math.Pi * width)
	half := n / 2 // kernel half-width, input samples
	r.taps = 2 * int(math.Ceil(half))
	r.phases = r.l
	rows := r.l
	if r.l > maxPhases {
		r.phases, r.interp = interpPhases, true
		rows = interpPhases + 1
	}
	r.coef = make([]float32, rows*r.taps)
	i0beta := bessel0(beta)
	hTaps := r.taps / 2
	for p := range rows {
		frac := float64(p) / float64(r.phases)
		row := r.coef[p*r.taps : (p+1)*r.taps]
		for j := range row {
			// Tap j weights input sample n-hTaps+1+j for an output at n+frac.
			t := frac + float64(hTaps-1-j)
			if math.Abs(t) >= half {
				continue
			}
			w := bessel0(beta*math.Sqrt(1-(t/half)*(t/half))) / i0beta
			row[j] = float32(2 * fc * sinc(2*fc*t) * w)
		}
	}
	return r
}

// Resample converts x from one rate to another (Hz), both positive, with the
// same filter as [NewResampler]. Output sample k sits at time k/to: the
// filter is centred, so there is no delay, and the output has
// ceil(len(x)*to/from) samples. When the rates are equal it returns a copy.
func Resample(x []float32, from, to int) []float32 {
	return NewResampler(from, to).Resample(x)
}

// OutputLen returns how many samples Resample produces from n input samples.
func (r *Resampler) OutputLen(n int) int {
	return int((int64(n)*int64(r.l) + int64(r.m) - 1) / int64(r.m))
}

// Resample converts x (mono, r's input rate) to r's output rate.
func (r *Resampler) Resample(x []float32) []float32 {
	return r.ResampleFunc(len(x), func(dst []float32, start int) { copy(dst, x[start:]) })
}

// resampleBlock is how many output samples ResampleFunc computes from one
// block of input.
const resampleBlock = 4096

// ResampleFunc converts n input samples to r's output rate, reading them a
// block at a time: read(dst, start) must fill dst with input samples
// start .. start+len(dst)-1. The input need never be held whole (the WAV
// decoder mixes each block straight from the file's bytes), so a long
// high-rate recording costs its output and one block, not a float copy of
// its source. The output equals Resample's exactly.
func (r *Resampler) ResampleFunc(n int, read func(dst []float32, start int)) []float32 {
	out := make([]float32, r.OutputLen(n))
	if r.l == r.m {
		for start := 0; start < n; start += resampleBlock {
			read(out[start:min(n, start+resampleBlock)], start)
		}
		return out
	}
	if n == 0 {
		return out
	}
	// Output k reads the input window x[i-hTaps+1 : i-hTaps+1+taps], i =
	// floor(k*m/l), with zeros outside 0..n-1.
	hTaps := r.taps / 2
	l, m := int64(r.l), int64(r.m)
	var buf []float32
	for k0 := 0; k0 < len(out); k0 += resampleBlock {
		k1 := min(len(out), k0+resampleBlock)
		lo := int(int64(k0)*m/l) + 1 - hTaps
		hi := int(int64(k1-1)*m/l) + 1 - hTaps + r.taps
		if cap(buf) < hi-lo {
			buf = make([]float32, hi-lo)
		}
		buf = buf[:hi-lo]
		clear(buf)
		if a, b := max(lo, 0), min(hi, n); a < b {
			read(buf[a-lo:b-lo], a)
		}
		for k := k0; k < k1; k++ {
			num := int64(k) * m
			i := int(num/l) + 1 - hTaps - lo
			out[k] = r.at(buf[i:i+r.taps], num%l)
		}
	}
	return out
}

// at is one output sample from its input window and phase p (0..l-1).
func (r *Resampler) at(win []float32, p int64) float32 {
	if !r.interp {
		c := r.coef[int(p)*r.taps : (int(p)+1)*r.taps]
		return vek32.Dot(c, win) // AVX2 when the CPU has it
	}
	// Interpolating the coefficients linearly between the two
	// neighbouring rows equals blending the two rows' outputs.
	pos := float64(p) * float64(r.phases) / float64(r.l)
	i := int(pos)
	w := float32(pos - float64(i))
	a := vek32.Dot(r.coef[i*r.taps:(i+1)*r.taps], win)
	b := vek32.Dot(r.coef[(i+1)*r.taps:(i+2)*r.taps], win)
	return a + w*(b-a)
}

// sinc is the normalised sinc, sin(pi x)/(pi x).
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// bessel0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges quickly for the arguments a Kaiser window uses).
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
