package antispoof

import (
	"fmt"

	"voxgate/tensor"
)

// The convolutional part of AASIST works on 2-D feature maps (frequency ×
// time × channels). They are stored channels-last, [row][col][channel], so
// that a 2×3 convolution is a matrix product whose A matrix is the input
// itself read with overlapping rows: for one output row and one kernel row,
// the 3·C inputs of an output position are contiguous, and the next
// position's start C floats later. No im2col copy is made.

// Layout constants of a feature map.
const (
	padLeft = 2  // zero columns left of column 0
	chunkW  = 96 // output positions per parallel task (a multiple of 12 and 3)
	// conv1Rows is how many conv1 positions a chunk computes: the chunkW+2
	// that conv2 reads, rounded up to the matrix kernel's 12-row tiles.
	conv1Rows = chunkW + 12
	// slack is the zero columns right of a map: the last chunk's conv1 reads
	// up to conv1Rows+1 columns past its start.
	slack = conv1Rows + 4
)

// fmap is a feature map of h rows (frequency bins), w columns (time frames)
// and c stored channels, with one zero row above and below, padLeft zero
// columns on the left and zero slack on the right that the chunked
// convolutions may read past the last column.
type fmap struct {
	h, w, c int
	cols    int       // stored columns per row
	data    []float32 // [h+2][cols][c]
}

func newFmap(h, w, c int) *fmap {
	cols := padLeft + w + slack
	return &fmap{h: h, w: w, c: c, cols: cols, data: make([]float32, (h+2)*cols*c)}
}

// off is the offset of (padded row, padded column).
func (f *fmap) off(row, col int) int { return (row*f.cols + col) * f.c }

// padChannels rounds a channel count up to whole kernel panels, so that the
// matrix kernel's 16-wide output tiles never spill into the next position.
func padChannels(c int) int {
	if c == 1 {
		return 1
	}
	return (c + tensor.Panel - 1) / tensor.Panel * tensor.Panel
}

// resBlock is one Residual_block of the encoder with BatchNorm folded in:
//
//	mid = SELU(BN2(conv1(x)))        conv1: 2×3, padding (1, 1): h+1 rows
//	y   = conv2(mid) + down(x) or x  conv2: 2×3, padding (0, 1): h rows
//	out = maxpool(1×3)(y)
//
// The authors' block computes BN1+SELU of its input and then discards it
// (conv1 reads x, not the normalised x); the published weights were trained
// that way, so bn1 is only checked to be present in the checkpoint.
type resBlock struct {
	cin, cout int // stored (padded) channels
	conv1     [2]*tensor.Packed
	shift1    []float32 // [cout] conv1 bias through BN2
	conv2     [2]*tensor.Packed
	bias2     []float32      // [cout] conv2 bias plus the downsample bias
	down      *tensor.Packed // 1×3 downsample convolution, nil when cin == cout
	realOut   int            // output channels the checkpoint has (cout is padded)
	// The INT8 forms of the convolutions (tensor.GemmQ), made where the CPU
	// has VNNI; qconv1 and qdown stay nil when cin is not a multiple of 4
	// (the first block's single channel: its 3-wide rows do not fill the
	// kernel's 4-byte groups, and it is a small share of the work).
	qconv1 [2]*tensor.QPacked
	qconv2 [2]*tensor.QPacked
	qdown  *tensor.QPacked
}

// packConv lays out one kernel row dh of a PyTorch Conv2d weight
// [out][in][kh][3] as the B matrix of the product: row dw*cin+ci, column co,
// each column scaled by scale[co] (nil for none).
func packConv(w *tensor.Tensor, dh, cin, cout int, scale []float32) *tensor.Packed {
	out, in, kh := w.Shape[0], w.Shape[1], w.Shape[2]
	k := 3 * cin
	bt := make([]float32, cout*k) // [cout][k], used transposed
	for co := range out {
		s := float32(1)
		if scale != nil {
			s = scale[co]
		}
		for ci := range in {
			for dw := range 3 {
				bt[co*k+dw*cin+ci] = s * w.Data[((co*in+ci)*kh+dh)*3+dw]
			}
		}
	}
	return tensor.Pack(true, k, cout, 1, bt, k)
}

func newResBlock(sd weights, prefix string, in, out int, first bool) (*resBlock, error) {
	b := &resBlock{cin: padChannels(in), cout: padChannels(out), realOut: out}
	w1, err := sd.get(prefix+"conv1.weight", out, in, 2, 3)
	if err != nil {
		return nil, err
	}
	b1, err := sd.get(prefix+"conv1.bias", out)
	if err != nil {
		return nil, err
	}
	scale, shift, err := sd.batchNorm(prefix+"bn2", out)
	if err != nil {
		return nil, err
	}
	for dh := range 2 {
		b.conv1[dh] = packConv(w1, dh, b.cin, b.cout, scale)
	}
	b.shift1 = make([]float32, b.cout)
	for c := range out {
		b.shift1[c] = scale[c]*b1.Data[c] + shift[c]
	}
	w2, err := sd.get(prefix+"conv2.weight", out, out, 2, 3)
	if err != nil {
		return nil, err
	}
	b2, err := sd.get(prefix+"conv2.bias", out)
	if err != nil {
		return nil, err
	}
	for dh := range 2 {
		b.conv2[dh] = packConv(w2, dh, b.cout, b.cout, nil)
	}
	b.bias2 = make([]float32, b.cout)
	copy(b.bias2, b2.Data)
	if in != out {
		wd, err := sd.get(prefix+"conv_downsample.weight", out, in, 1, 3)
		if err != nil {
			return nil, err
		}
		bd, err := sd.get(prefix+"conv_downsample.bias", out)
		if err != nil {
			return nil, err
		}
		b.down = packConv(wd, 0, b.cin, b.cout, nil)
		for c := range out {
			b.bias2[c] += bd.Data[c]
		}
	}
	if tensor.UseQ() {
		for dh := range 2 {
			b.qconv2[dh] = tensor.Quantize(b.conv2[dh])
			if b.cin%4 == 0 {
				b.qconv1[dh] = tensor.Quantize(b.conv1[dh])
			}
		}
		if b.down != nil && b.cin%4 == 0 {
			b.qdown = tensor.Quantize(b.down)
		}
	}
	if !first {
		// Present in the checkpoint, unused by the forward pass (see resBlock).
		if _, _, err := sd.batchNorm(prefix+"bn1", in); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// blockScratch is one worker's buffers for a resBlock chunk.
type blockScratch struct {
	mid  []float32 // [h+1][conv1Rows][cout]: SELU(BN2(conv1)) around the chunk
	tile []float32 // [chunkW][cout]: conv2 + identity before pooling
	qmid []uint8   // mid quantised for the INT8 conv2 (nil in FP32)
}

func (b *resBlock) scratchSize(h int) (mid, tile int) {
	return (h + 1) * conv1Rows * b.cout, chunkW * b.cout
}

// forward runs the block on in and writes the pooled result to out, whose
// shape must be (in.h, in.w/3, b.cout). Chunks of chunkW output columns run
// in parallel; each recomputes the two conv1 columns at its edges. qin,
// when not nil, holds room for in quantised: the INT8 encoder.
func (b *resBlock) forward(in, out *fmap, scratch []blockScratch, qin []uint8) {
	if in.c != b.cin || out.c != b.cout || out.h != in.h || out.w != in.w/3 {
		panic(fmt.Sprintf("antispoof: block shape mismatch: in %dx%dx%d, out %dx%dx%d, block %d->%d",
			in.h, in.w, in.c, out.h, out.w, out.c, b.cin, b.cout))
	}
	q := quantIn{int8: qin != nil}
	if q.int8 && b.qconv1[0] != nil {
		q.data, q.scale = qin[:len(in.data)], tensor.QuantizeActivations(qin, in.data)
	}
	chunks := (in.w + chunkW - 1) / chunkW
	tensor.ParallelFor(chunks, len(scratch), func(worker, i int) {
		b.chunk(in, out, i*chunkW, &scratch[worker], q)
	})
}

// quantIn is a block's input quantised once for all its chunks (data nil:
// conv1 and the downsample run in FP32); int8 says whether conv2 runs in
// INT8.
type quantIn struct {
	int8  bool
	data  []uint8
	scale float32
}

func (b *resBlock) chunk(in, out *fmap, w0 int, s *blockScratch, q quantIn) {
	const m1 = conv1Rows // conv1 positions w0-1 .. w0+chunkW+10
	h, cin, cout := in.h, b.cin, b.cout
	// conv1 + BN2 + SELU for rows 0..h (padding 1 on both sides of h).
	for r := 0; r <= h; r++ {
		mid := s.mid[r*m1*cout : (r+1)*m1*cout]
		for dh := range 2 {
			// Position w0-1+m reads input columns w0-2+m .. w0+m, that is
			// padded columns w0+m .. w0+m+2.
			if q.data != nil {
				tensor.GemmQ(m1, q.data[in.off(r+dh, w0):], cin, q.scale, b.qconv1[dh], mid, cout, dh == 1)
				continue
			}
			a := in.data[in.off(r+dh, w0):]
			tensor.GemmPacked(m1, a, cin, b.conv1[dh], mid, cout, dh == 1)
		}
		// Only positions inside the map are activated; the others become
		// conv2's zero padding.
		lo := max(0, 1-w0)
		hi := min(m1, in.w-w0+1)
		if lo > 0 {
			clear(mid[:lo*cout])
		}
		if hi > lo {
			tensor.SELUShift(mid[lo*cout:hi*cout], b.shift1)
		}
		if hi < m1 {
			clear(mid[max(hi, lo)*cout:])
		}
	}
	// conv2 + identity, then max-pool 1×3 into out.
	var qmid []uint8
	var midScale float32
	if q.int8 {
		n := (h + 1) * m1 * cout
		qmid, midScale = s.qmid[:n], tensor.QuantizeActivations(s.qmid, s.mid[:n])
	}
	gLo := w0 / 3
	gHi := min((w0+chunkW)/3, in.w/3)
	for r := range h {
		// The identity path initialises the tile, and conv2 accumulates onto
		// it, so the residual sum costs no extra pass.
		t := s.tile
		switch {
		case b.down != nil && q.data != nil:
			tensor.GemmQ(chunkW, q.data[in.off(r+1, w0+1):], cin, q.scale, b.qdown, t, cout, false)
		case b.down != nil:
			// Position p reads input columns p-1 .. p+1: padded p+1 .. p+3.
			tensor.GemmPacked(chunkW, in.data[in.off(r+1, w0+1):], cin, b.down, t, cout, false)
		default:
			copy(t, in.data[in.off(r+1, w0+padLeft):])
		}
		for dh := range 2 {
			if qmid != nil {
				tensor.GemmQ(chunkW, qmid[(r+dh)*m1*cout:], cout, midScale, b.qconv2[dh], t, cout, true)
				continue
			}
			tensor.GemmPacked(chunkW, s.mid[(r+dh)*m1*cout:], cout, b.conv2[dh], t, cout, true)
		}
		if gHi > gLo {
			dst := out.data[out.off(r+1, gLo+padLeft):]
			tensor.MaxPool3Bias(dst, t[(3*gLo-w0)*cout:], b.bias2, gHi-gLo)
		}
	}
}
