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
	acts       [][]float32 // one per layer, then the input, a sum and a pooled map
	cols, part []float32   // im2col matrix, one GEMM chunk's products
	acc        []int32     // a layer's exact sums
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

// act is one layer's output, int8 values held exactly in float32, pixel-major
// (v[(y*w+x)*c+ch]), the layout the GEMM reads and writes.
type act struct {
	c, h, w int
	v       []float32
}

// Forward runs the network on one input x ([Bands*Frames] int8) with the accelerator's
// integer arithmetic and returns its 64 int8 outputs.
func (n *Net) Forward(x []int8, order Order) [Dim]int8 {
	if len(x) != Bands*Frames {
		panic("thinresnet: input must be 80x128")
	}
	s, _ := n.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{acts: make([][]float32, len(n.layers)+3)}
	}
	defer n.pool.Put(s)
	get := func(i, size int) []float32 { return grow(&s.acts[i], size) }
	in := act{1, Bands, Frames, get(len(n.layers), Bands*Frames)} // one channel: CHW = HWC
	for i, v := range x {
		in.v[i] = float32(v)
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
				data.v[i] = min(max(a.v[i]+b.v[i], -128), 127)
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
// the layer's ReLU (an element-wise add's identity always has one). The products run as
// float32 GEMMs of the im2col matrix ([pixels][k*k*in], tap-major, which is a copy of
// whole pixels in this layout) and the weights packed at load, exact: each GEMM sums at
// most exactChunk products of two int8 values, |sum| <= 2^24, which float32 holds
// exactly; the chunks are added as int32.
func conv(lay *layer, in, out act, s *scratch) {
	k, H, W, C := lay.k, in.h, in.w, in.c
	P, K, pad := H*W, C*k*k, k/2
	cols := in.v
	if k > 1 {
		cols = grow(&s.cols, P*K)
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				row := cols[(y*W+x)*K : (y*W+x+1)*K]
				for i := 0; i < k; i++ {
					yy := y + i - pad
					for j := 0; j < k; j++ {
						xx := x + j - pad
						dst := row[(i*k+j)*C : (i*k+j+1)*C]
						if yy < 0 || yy >= H || xx < 0 || xx >= W {
							clear(dst)
						} else {
							copy(dst, in.v[(yy*W+xx)*C:(yy*W+xx+1)*C])
						}
					}
				}
			}
		}
	}
	O := lay.out
	acc := grow32(&s.acc, P*O)
	for p := 0; p < P; p++ {
		row := acc[p*O : (p+1)*O]
		if lay.b == nil {
			clear(row)
			continue
		}
		for o, b := range lay.b {
			row[o] = int32(b) * 128
		}
	}
	n := lay.packed[0].PaddedN()
	part := grow(&s.part, P*n)
	for ci, pk := range lay.packed {
		tensor.GemmPacked(P, cols[ci*exactChunk:], K, pk, part, n, false)
		for p := 0; p < P; p++ {
			row := acc[p*O : (p+1)*O]
			for o, v := range part[p*n : p*n+O] {
				row[o] += int32(v)
			}
		}
	}
	lo := int32(-128)
	if lay.relu || lay.kind == addK {
		lo = 0
	}
	for i, a := range acc {
		out.v[i] = float32(clamp(requant(a, lay.shift), lo, 127))
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

func grow32(b *[]int32, n int) []int32 {
	if cap(*b) < n {
		*b = make([]int32, n)
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

func maxPool2(in act, dst []float32) act {
	h, w, C := in.h/2, in.w/2, in.c
	out := act{C, h, w, dst}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (2*y*in.w + 2*x) * C
			d := out.v[(y*w+x)*C : (y*w+x+1)*C]
			for c := range d {
				d[c] = max(in.v[i+c], in.v[i+C+c], in.v[i+in.w*C+c], in.v[i+(in.w+1)*C+c])
			}
		}
	}
	return out
}

// avgPoolAll averages each channel's whole map, truncating toward zero.
func avgPoolAll(in act, dst []float32) act {
	n := in.h * in.w
	out := act{in.c, 1, 1, dst}
	for c := 0; c < in.c; c++ {
		s := int32(0)
		for p := 0; p < n; p++ {
			s += int32(in.v[p*in.c+c])
		}
		out.v[c] = float32(s / int32(n)) // Go's division truncates toward zero
	}
	return out
}
