package thinresnet

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"voxgate/tensor"
)

// Input shape: 80 mel bands x 128 frames of int8, band-major (x[band*Frames+frame]).
const (
	Bands  = 80
	Frames = 128
	// Dim is the length of the network's output.
	Dim = 64
)

// DirName is the network's folder inside a models folder (voxgate models pull).
const DirName = "thinresnet-max78000"

// Order says where the stem's 2x2 max pool goes.
type Order int

const (
	// Trained convolves, applies the ReLU and then pools, as the PyTorch model the weights
	// were trained in (training/models/ai85net-sv.py). Embeddings use it.
	Trained Order = iota
	// Hardware pools the input before the stem's convolution, as the synthesised
	// accelerator program does (sv.yaml); sampleoutput.h was computed this way.
	Hardware
)

// Net is the decoded network: immutable, safe for concurrent use.
type Net struct {
	layers []layer
	pool   sync.Pool // *scratch
}

// scratch is one Forward call's buffers, reused through Net.pool.
type scratch struct {
	acts       [][]int32 // one per layer, then the input, a sum and a pooled map
	cols, part []float32 // im2col matrix, one GEMM chunk's products
}

// Load reads DirName/weights.h and DirName/cnn.c from a models folder and decodes them.
func Load(modelsDir string) (*Net, error) {
	dir := filepath.Join(modelsDir, DirName)
	w, err := os.ReadFile(filepath.Join(dir, "weights.h"))
	if err != nil {
		return nil, fmt.Errorf("thinresnet: %w (voxgate models pull fetches it)", err)
	}
	c, err := os.ReadFile(filepath.Join(dir, "cnn.c"))
	if err != nil {
		return nil, fmt.Errorf("thinresnet: %w (voxgate models pull fetches it)", err)
	}
	return Decode(w, c)
}

// Decode builds the network from the generated weights.h and cnn.c.
func Decode(weightsH, cnnC []byte) (*Net, error) {
	layers, err := decode(weightsH, cnnC)
	if err != nil {
		return nil, err
	}
	return &Net{layers: layers}, nil
}

// act is one layer's output: [c][h][w] int8 values held in int32.
type act struct {
	c, h, w int
	v       []int32
}

// Forward runs the network on one input x ([Bands*Frames] int8) with the accelerator's
// integer arithmetic and returns its 64 int8 outputs.
func (n *Net) Forward(x []int8, order Order) [Dim]int8 {
	if len(x) != Bands*Frames {
		panic("thinresnet: input must be 80x128")
	}
	s, _ := n.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{acts: make([][]int32, len(n.layers)+3)}
	}
	defer n.pool.Put(s)
	get := func(i, size int) []int32 {
		if cap(s.acts[i]) < size {
			s.acts[i] = make([]int32, size)
		}
		return s.acts[i][:size]
	}
	in := act{1, Bands, Frames, get(len(n.layers), Bands*Frames)}
	for i, v := range x {
		in.v[i] = int32(v)
	}
	outs := make([]act, len(n.layers))
	for ll := range n.layers {
		lay := &n.layers[ll]
		var data act
		switch {
		case lay.kind == addK:
			a, b := outs[lay.src[0]], outs[lay.src[1]]
			data = act{a.c, a.h, a.w, get(len(n.layers)+1, len(a.v))}
			for i := range data.v {
				data.v[i] = clamp(a.v[i]+b.v[i], -128, 127)
			}
		case lay.src[0] < 0:
			data = in
		default:
			data = outs[lay.src[0]]
		}
		stemAfter := ll == 0 && order == Trained
		switch {
		case lay.pool == maxPool && !stemAfter:
			data = maxPool2(data, get(len(n.layers)+2, data.c*(data.h/2)*(data.w/2)))
		case lay.pool == avgPool:
			data = avgPoolAll(data, get(len(n.layers)+2, data.c))
		}
		if lay.kind == passK {
			out := act{data.c, data.h, data.w, get(ll, len(data.v))}
			copy(out.v, data.v)
			outs[ll] = out
			continue
		}
		if data.c != lay.in {
			panic(fmt.Sprintf("thinresnet: layer %s gets %d channels, wants %d", lay.name, data.c, lay.in))
		}
		out := act{lay.out, data.h, data.w, get(ll, lay.out*data.h*data.w)}
		conv(lay, data, out, s)
		if stemAfter {
			pooled := maxPool2(out, get(len(n.layers)+2, out.c*(out.h/2)*(out.w/2)))
			out = act{pooled.c, pooled.h, pooled.w, get(ll, len(pooled.v))}
			copy(out.v, pooled.v)
		}
		outs[ll] = out
	}
	var y [Dim]int8
	last := outs[len(outs)-1]
	for i := range y {
		y[i] = int8(last.v[i])
	}
	return y
}

// conv computes out = requant(conv(in, w) + b*128) with 'same' padding and stride 1, then
// the layer's ReLU (an element-wise add's identity always has one). The products run as a
// float32 GEMM over an im2col matrix, exact: every partial sum has at most exactChunk
// products of two int8 values, |sum| <= 2^24, which float32 holds exactly; the chunks are
// added as int32.
func conv(lay *layer, in, out act, s *scratch) {
	k, H, W := lay.k, in.h, in.w
	P, K, pad := H*W, lay.in*k*k, k/2
	cols := grow(&s.cols, K*P)
	for c := 0; c < lay.in; c++ {
		src := in.v[c*P : (c+1)*P]
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				dst := cols[((c*k+i)*k+j)*P : ((c*k+i)*k+j+1)*P]
				dy, dx := i-pad, j-pad
				x0, x1 := max(0, -dx), min(W, W-dx)
				for y := 0; y < H; y++ {
					row := dst[y*W : (y+1)*W]
					if y+dy < 0 || y+dy >= H {
						clear(row)
						continue
					}
					clear(row[:x0])
					clear(row[x1:])
					sr := src[(y+dy)*W+x0+dx : (y+dy)*W+x1+dx]
					for x, v := range sr {
						row[x0+x] = float32(v)
					}
				}
			}
		}
	}
	acc := out.v[:lay.out*P]
	for o := 0; o < lay.out; o++ {
		b := int32(0)
		if lay.b != nil {
			b = int32(lay.b[o]) * 128
		}
		row := acc[o*P : (o+1)*P]
		for i := range row {
			row[i] = b
		}
	}
	part := grow(&s.part, lay.out*P)
	for k0 := 0; k0 < K; k0 += exactChunk {
		k1 := min(K, k0+exactChunk)
		tensor.Gemm(false, lay.out, P, k1-k0, 1, lay.wf[k0:], K, cols[k0*P:], P, 0, part, P)
		for i, v := range part {
			acc[i] += int32(v)
		}
	}
	lo := int32(-128)
	if lay.relu || lay.kind == addK {
		lo = 0
	}
	for i, a := range acc {
		acc[i] = clamp(requant(a, lay.shift), lo, 127)
	}
}

// exactChunk is the most int8 x int8 products a float32 sum holds exactly (2^24 / 2^14).
const exactChunk = 1024

func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// requant is floor(0.5 + acc * 2**shift / 128), exactly.
func requant(acc int32, shift int) int32 {
	a := int64(acc)
	if shift >= 0 {
		return int32((a<<shift + 64) >> 7)
	}
	d := 7 - shift
	return int32((a + 1<<(d-1)) >> d)
}

func clamp(v, lo, hi int32) int32 {
	return min(max(v, lo), hi)
}

func maxPool2(in act, dst []int32) act {
	h, w := in.h/2, in.w/2
	out := act{in.c, h, w, dst}
	for c := 0; c < in.c; c++ {
		src := in.v[c*in.h*in.w:]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := 2*y*in.w + 2*x
				out.v[(c*h+y)*w+x] = max(src[i], src[i+1], src[i+in.w], src[i+in.w+1])
			}
		}
	}
	return out
}

// avgPoolAll averages each channel's whole map, truncating toward zero.
func avgPoolAll(in act, dst []int32) act {
	n := int32(in.h * in.w)
	out := act{in.c, 1, 1, dst}
	for c := 0; c < in.c; c++ {
		s := int32(0)
		for _, v := range in.v[c*int(n) : (c+1)*int(n)] {
			s += v
		}
		out.v[c] = s / n // Go's division truncates toward zero
	}
	return out
}
