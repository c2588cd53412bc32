package speaker

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"voxgate/tensor"
)

// tdnn is the neural embedding network trained by train/speaker/train_nn.py:
// five 1-D convolutions over time (each followed by ReLU and an inference
// batch norm folded to a per-channel scale and shift), mean and standard
// deviation pooling over time, and a linear layer (with the embedding batch
// norm folded in) to Dim.
type tdnn struct {
	layers []convLayer
	fcW    []float32 // [Dim][pooled]
	fcB    []float32 // [Dim]
	pooled int       // 2 * channels of the last layer
	field  int       // receptive field in frames
}

type convLayer struct {
	in, out, k, dil int
	w               []float32 // [out][k*in]: w[o][j*in+c] = torch weight[o][c][j]
	bias            []float32 // [out]
	scale, shift    []float32 // [out] folded batch norm, applied after ReLU
}

func loadTDNN(f *modelFile, nmels int) (*tdnn, error) {
	ks, err := intList(f.meta["kernels"])
	if err != nil {
		return nil, fmt.Errorf("speaker: metadata kernels: %w", err)
	}
	ds, err := intList(f.meta["dilations"])
	if err != nil || len(ds) != len(ks) {
		return nil, fmt.Errorf("speaker: metadata dilations %q do not match kernels", f.meta["dilations"])
	}
	n := &tdnn{field: 1}
	in := nmels
	for l := range ks {
		p := fmt.Sprintf("conv%d.", l)
		w, s, err := f.get(p+"weight", -1, in, ks[l])
		if err != nil {
			return nil, err
		}
		cl := convLayer{in: in, out: s[0], k: ks[l], dil: ds[l]}
		cl.w = make([]float32, len(w))
		for o := 0; o < cl.out; o++ {
			for c := 0; c < in; c++ {
				for j := 0; j < cl.k; j++ {
					cl.w[o*cl.k*in+j*in+c] = w[(o*in+c)*cl.k+j]
				}
			}
		}
		for _, name := range []string{"bias", "bn_scale", "bn_shift"} {
			v, _, err := f.get(p+name, cl.out)
			if err != nil {
				return nil, err
			}
			switch name {
			case "bias":
				cl.bias = v
			case "bn_scale":
				cl.scale = v
			default:
				cl.shift = v
			}
		}
		n.layers = append(n.layers, cl)
		n.field += cl.dil * (cl.k - 1)
		in = cl.out
	}
	n.pooled = 2 * in
	if n.fcW, _, err = f.get("fc.weight", Dim, n.pooled); err != nil {
		return nil, err
	}
	if n.fcB, _, err = f.get("fc.bias", Dim); err != nil {
		return nil, err
	}
	return n, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// tdnnWork holds the per-call activations.
type tdnnWork struct {
	pad, a, b, col []float32
}

// forward computes the (unnormalised) embedding out ([Dim]) of x
// ([frames][nmels], already mean-normalised). Inputs shorter than the
// receptive field are extended by repeating them from the start, as the
// training code's crops are.
func (n *tdnn) forward(w *tdnnWork, out, x []float32, nmels int) {
	T := len(x) / nmels
	if T < n.field {
		w.pad = grow(w.pad, n.field*nmels)
		for t := 0; t < n.field; t++ {
			copy(w.pad[t*nmels:(t+1)*nmels], x[(t%T)*nmels:(t%T+1)*nmels])
		}
		x, T = w.pad, n.field
	}
	h := x
	for li, l := range n.layers {
		To := T - l.dil*(l.k-1)
		// input rows for output frame t: h[t], h[t+dil], ..., h[t+(k-1)dil]
		var a []float32
		lda := l.k * l.in
		switch {
		case l.k == 1:
			a, lda = h, l.in
		case l.dil == 1:
			a, lda = h, l.in // overlapping rows: row t starts at h[t*in], spans k*in values
		default:
			w.col = grow(w.col, To*l.k*l.in)
			for t := 0; t < To; t++ {
				for j := 0; j < l.k; j++ {
					src := (t + j*l.dil) * l.in
					copy(w.col[t*lda+j*l.in:t*lda+(j+1)*l.in], h[src:src+l.in])
				}
			}
			a = w.col
		}
		dst := &w.b
		if li%2 == 1 {
			dst = &w.a
		}
		*dst = grow(*dst, To*l.out)
		o := *dst
		for t := 0; t < To; t++ {
			copy(o[t*l.out:(t+1)*l.out], l.bias)
		}
		// o [To][out] += a [To][k*in] · w^T, w is [out][k*in]
		tensor.Gemm(true, To, l.out, l.k*l.in, 1, a, lda, l.w, l.k*l.in, 1, o, l.out)
		for t := 0; t < To; t++ {
			row := o[t*l.out : (t+1)*l.out]
			for c, v := range row {
				if v < 0 {
					v = 0
				}
				row[c] = v*l.scale[c] + l.shift[c]
			}
		}
		h, T = o, To
	}
	// statistics pooling: [mean; std] over time, pooled = 2*C
	C := n.pooled / 2
	pool := make([]float64, n.pooled)
	for t := 0; t < T; t++ {
		row := h[t*C : (t+1)*C]
		for c, v := range row {
			pool[c] += float64(v)
			pool[C+c] += float64(v) * float64(v)
		}
	}
	st := make([]float32, n.pooled)
	for c := 0; c < C; c++ {
		m := pool[c] / float64(T)
		v := pool[C+c]/float64(T) - m*m
		st[c] = float32(m)
		st[C+c] = float32(math.Sqrt(math.Max(v, 1e-5)))
	}
	copy(out, n.fcB)
	tensor.Gemm(true, 1, Dim, n.pooled, 1, st, n.pooled, n.fcW, n.pooled, 1, out, Dim)
}
