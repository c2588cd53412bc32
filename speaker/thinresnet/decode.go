package thinresnet

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	"voxgate/tensor"
)

// The MAX78000's memory map, as ai8x-synthesis addresses it (izer/tornadocnn.py).
const (
	apbBase   = 0x50000000
	cnnBase   = apbBase + 0x100000 // quadrant 0's layer registers
	mramBase  = apbBase + 0x180000 // quadrant 0's kernel memory, processor 0
	groupOffs = 0x400000           // one quadrant (16 processors) to the next
	maskOffs  = 1024               // kernel slots reserved per processor
	maskWidth = 768                // kernel slots a processor has
	sramBase  = apbBase + 0x400000 // quadrant 0's data memory
	numProcs  = 64
)

// Layer register numbers (LREG_*), each an array of 32 layers 0x80 bytes apart.
const (
	regMCNT  = 12 // kernel memory start (bits 31:16) and end (15:0) of the layer
	regENA   = 14 // processor enables (15:0) and kernel-mask enables (31:16), per quadrant
	regPOST  = 15 // bias offset (11:0), bias enable (12), output shift (17:13), weight width (23:22)
	regLCTL2 = 20 // input passes - 1 (3:0)
)

type kind int

const (
	convK kind = iota // convolution (3x3 or 1x1), bias, output shift
	passK             // passthrough: moves data, optionally max-pooling it
	addK              // element-wise add of two layers' outputs, then ReLU
)

type poolK int

const (
	noPool  poolK = iota
	maxPool       // 2x2, stride 2, before the layer's operator
	avgPool       // over the whole map, before the layer's operator
)

// layer is one accelerator layer. Weights are [out][in][k][k] int8, bias [out] int8.
type layer struct {
	name     string
	kind     kind
	src      [2]int // input layer(s); -1 is the network input
	k, out   int
	in       int
	relu     bool
	pool     poolK
	w        []int8
	packed   []*tensor.Packed // w^T as float32 GEMM operands, one per exactChunk rows of in*k*k
	b        []int8
	shift    int
	procs    int // input processors
	inPasses int
}

// graph is synthesis/networks/sv.yaml: the layers in order, what feeds each, kernel size,
// pooling and activation. Weights, biases, shifts, processors and passes come from the
// generated C and are checked against it.
var graph = []layer{
	{name: "stem", kind: convK, src: [2]int{-1}, k: 3, out: 16, relu: true, pool: maxPool},
	{name: "stem_pool_copy", kind: passK, src: [2]int{0}},
	{name: "stage1.conv1", kind: convK, src: [2]int{0}, k: 3, out: 16, relu: true},
	{name: "stage1.conv2", kind: convK, src: [2]int{2}, k: 3, out: 16},
	{name: "stage1.add", kind: addK, src: [2]int{1, 3}, out: 16},
	{name: "pool1", kind: passK, src: [2]int{4}, pool: maxPool},
	{name: "stage2.conv1", kind: convK, src: [2]int{5}, k: 3, out: 32, relu: true},
	{name: "stage2.conv2", kind: convK, src: [2]int{6}, k: 3, out: 32},
	{name: "stage2.shortcut", kind: convK, src: [2]int{5}, k: 1, out: 32},
	{name: "stage2.add", kind: addK, src: [2]int{8, 7}, out: 32},
	{name: "pool2", kind: passK, src: [2]int{9}, pool: maxPool},
	{name: "stage3.conv1", kind: convK, src: [2]int{10}, k: 3, out: 64, relu: true},
	{name: "stage3.conv2", kind: convK, src: [2]int{11}, k: 3, out: 64},
	{name: "stage3.shortcut", kind: convK, src: [2]int{10}, k: 1, out: 64},
	{name: "stage3.add", kind: addK, src: [2]int{13, 12}, out: 64},
	{name: "stage4.conv1", kind: convK, src: [2]int{14}, k: 3, out: 128, relu: true},
	{name: "stage4.conv2", kind: convK, src: [2]int{15}, k: 3, out: 128},
	{name: "stage4.shortcut", kind: convK, src: [2]int{14}, k: 1, out: 128},
	{name: "stage4.add", kind: addK, src: [2]int{17, 16}, out: 128},
	{name: "fc", kind: convK, src: [2]int{18}, k: 1, out: 64, pool: avgPool},
}

var (
	defineRE = regexp.MustCompile(`(?s)#define (\w+) \{(.*?)\}`)
	hexRE    = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	regRE    = regexp.MustCompile(`\(\(volatile uint32_t \*\) (0x[0-9a-f]+)\) = (0x[0-9a-f]+);`)
)

// defines parses the "#define NAME { 0x.., ... }" blocks of a generated header.
func defines(src []byte) (map[string][]uint32, error) {
	out := map[string][]uint32{}
	for _, m := range defineRE.FindAllSubmatch(src, -1) {
		hs := hexRE.FindAll(m[2], -1)
		vals := make([]uint32, len(hs))
		for i, h := range hs {
			v, err := strconv.ParseUint(string(h[2:]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("thinresnet: %s: %w", m[1], err)
			}
			vals[i] = uint32(v)
		}
		out[string(m[1])] = vals
	}
	return out, nil
}

// registers parses cnn.c's register writes: address -> last value written.
func registers(src []byte) map[uint32]uint32 {
	regs := map[uint32]uint32{}
	for _, m := range regRE.FindAllSubmatch(src, -1) {
		a, _ := strconv.ParseUint(string(m[1][2:]), 16, 32)
		v, _ := strconv.ParseUint(string(m[2][2:]), 16, 32)
		regs[uint32(a)] = uint32(v)
	}
	return regs
}

func lreg(regs map[uint32]uint32, group, reg, layer int) uint32 {
	return regs[uint32(cnnBase+group*groupOffs+0x10+reg*0x80+layer*4)]
}

// kernelMemory unpacks weights.h's KERNELS (chunks of: loader address, length in words,
// 9-byte kernels packed big-endian) into [processor][slot][9] bytes.
func kernelMemory(words []uint32) ([][maskWidth][9]byte, error) {
	mem := make([][maskWidth][9]byte, numProcs)
	for i := 0; ; {
		if i >= len(words) {
			return nil, fmt.Errorf("thinresnet: KERNELS not terminated")
		}
		addr := words[i]
		if addr == 0 {
			return mem, nil
		}
		if i+1 >= len(words) || i+2+int(words[i+1]) > len(words) || addr < mramBase {
			return nil, fmt.Errorf("thinresnet: KERNELS chunk at word %d is malformed", i)
		}
		n := int(words[i+1])
		var raw bytes.Buffer
		for _, w := range words[i+2 : i+2+n] {
			raw.Write([]byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w)})
		}
		count := n * 4 / 9
		rel := int(addr - mramBase)
		g, rel := rel/groupOffs, rel%groupOffs
		p, rel := rel/(maskOffs*16), rel%(maskOffs*16)
		slot := rel >> 2 // the loader's address is slot*4 (mexpress mode)
		proc := g*16 + p
		if proc >= numProcs || slot+count > maskWidth {
			return nil, fmt.Errorf("thinresnet: KERNELS address %#x out of range", addr)
		}
		b := raw.Bytes()
		for j := 0; j < count; j++ {
			copy(mem[proc][slot+j][:], b[9*j:9*j+9])
		}
		i += 2 + n
	}
}

// decode turns the generated C into the network's layers (see the package comment).
func decode(weightsH, cnnC []byte) ([]layer, error) {
	defs, err := defines(weightsH)
	if err != nil {
		return nil, err
	}
	if defs["KERNELS"] == nil {
		return nil, fmt.Errorf("thinresnet: weights.h has no KERNELS")
	}
	mem, err := kernelMemory(defs["KERNELS"])
	if err != nil {
		return nil, err
	}
	regs := registers(cnnC)
	var bias [4][]int8
	for g := range bias {
		for _, v := range defs[fmt.Sprintf("BIAS_%d", g)] {
			bias[g] = append(bias[g], int8(uint8(v)))
		}
	}
	layers := make([]layer, len(graph))
	chans := make([]int, len(graph)) // output channels per layer
	srcChans := func(src int) int {
		if src < 0 {
			return 1
		}
		return chans[src]
	}
	for ll, spec := range graph {
		lay := spec
		post := [4]uint32{}
		for g := range post {
			post[g] = lreg(regs, g, regPOST, ll)
		}
		if spec.kind == passK {
			for g := range post {
				if post[g]>>13&0x1f != 0 {
					return nil, fmt.Errorf("thinresnet: layer %d (%s): a passthrough with an output shift", ll, spec.name)
				}
			}
			layers[ll] = lay
			chans[ll] = srcChans(spec.src[0])
			continue
		}
		var procs []int
		for g := 0; g < 4; g++ {
			e := lreg(regs, g, regENA, ll)
			if e&0xffff != e>>16 {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): processor and mask enables differ", ll, spec.name)
			}
			for p := 0; p < 16; p++ {
				if e>>p&1 == 1 {
					procs = append(procs, g*16+p)
				}
			}
		}
		inPasses := int(lreg(regs, 0, regLCTL2, ll)&0xf) + 1
		mcnt := lreg(regs, 0, regMCNT, ll)
		qcode, sh := post[0]>>22&3, post[0]>>13&0x1f
		biasGroup := -1
		for g := 0; g < 4; g++ {
			if lreg(regs, g, regMCNT, ll) != mcnt || post[g]>>22&3 != qcode || post[g]>>13&0x1f != sh {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): quadrants disagree", ll, spec.name)
			}
			if post[g]>>12&1 == 1 {
				if biasGroup >= 0 {
					return nil, fmt.Errorf("thinresnet: layer %d (%s): bias in two quadrants", ll, spec.name)
				}
				biasGroup = g
			}
		}
		quant := [4]int{8, 1, 2, 4}[qcode]
		shift := int(sh)
		if sh&0x10 != 0 {
			shift = -int(sh & 0xf)
		}
		k := spec.k
		if spec.kind == addK {
			k = 1
		}
		nIn := len(procs) * inPasses
		outPasses := (spec.out + 63) / 64
		start, end := int(mcnt>>16), int(mcnt&0xffff)
		kernCount := (end-start)/quant + 1
		slots := min(spec.out, 64)
		if kernCount != slots*outPasses*inPasses {
			return nil, fmt.Errorf("thinresnet: layer %d (%s): %d kernels per processor, want %d", ll, spec.name, kernCount, slots*outPasses*inPasses)
		}
		w := make([]int8, spec.out*nIn*k*k)
		thresh := len(procs)
		if k == 3 {
			if quant != 8 || start%8 != 0 {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): unsupported 3x3 layout", ll, spec.name)
			}
			offs := start / 8
			for ch, p := range procs {
				for m := 0; m < spec.out; m++ {
					for ie := 0; ie < inPasses; ie++ {
						kern := mem[p][offs+m*inPasses+ie]
						cin := ch + ie*thresh
						for t := 0; t < 9; t++ {
							w[(m*nIn+cin)*9+t] = int8(kern[t])
						}
					}
				}
			}
		} else {
			// 1x1: one byte per kernel (8/quant output channels a byte for narrow weights),
			// nine to a slot, filled from the slot's last byte towards its first.
			if start%72 != 0 {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): unsupported 1x1 layout", ll, spec.name)
			}
			offs, qf := start/72, 8/quant
			for ch, p := range procs {
				for m0 := 0; m0 < spec.out; m0 += qf {
					for ie := 0; ie < inPasses; ie++ {
						j := 9*offs + (m0/qf)*inPasses + ie
						by := mem[p][j/9][8-j%9]
						for n := 0; n < qf; n++ {
							idx := n + ie*qf
							m, cin := m0+idx/inPasses, ch+(idx%inPasses)*thresh
							if m < spec.out && cin < nIn {
								v := int(by>>(n*quant)) & (1<<quant - 1)
								if v>>(quant-1) == 1 {
									v -= 1 << quant
								}
								w[m*nIn+cin] = int8(v)
							}
						}
					}
				}
			}
		}
		// [out][k*k][in]: tap-major rows, the im2col order of pixel-major activations
		K := nIn * k * k
		wf := make([]float32, len(w))
		for o := 0; o < spec.out; o++ {
			for c := 0; c < nIn; c++ {
				for t := 0; t < k*k; t++ {
					wf[o*K+t*nIn+c] = float32(w[(o*nIn+c)*k*k+t])
				}
			}
		}
		for k0 := 0; k0 < K; k0 += exactChunk {
			lay.packed = append(lay.packed, tensor.Pack(true, min(K, k0+exactChunk)-k0, spec.out, 1, wf[k0:], K))
		}
		lay.w, lay.k, lay.shift, lay.in, lay.procs, lay.inPasses = w, k, shift, nIn, len(procs), inPasses
		if biasGroup >= 0 {
			offs := int(post[biasGroup] & 0xfff)
			if offs+spec.out > len(bias[biasGroup]) {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): bias beyond BIAS_%d", ll, spec.name, biasGroup)
			}
			lay.b = bias[biasGroup][offs : offs+spec.out]
		}
		if spec.kind == addK {
			// the identity ai8x-synthesis inserts after an element-wise add: 2-bit weight 1
			// per channel, output shift 7, no bias (x * 128 / 128 = x)
			if quant != 2 || shift != 7 || lay.b != nil || nIn != spec.out || !identity(w, spec.out) {
				return nil, fmt.Errorf("thinresnet: layer %d (%s): not the identity an element-wise add needs", ll, spec.name)
			}
		} else if quant != 8 {
			return nil, fmt.Errorf("thinresnet: layer %d (%s): %d-bit weights", ll, spec.name, quant)
		}
		want := srcChans(spec.src[0])
		if spec.kind == addK && srcChans(spec.src[1]) != want {
			want = -1
		}
		if nIn != want {
			return nil, fmt.Errorf("thinresnet: layer %d (%s): %d input channels, its input has %d", ll, spec.name, nIn, want)
		}
		layers[ll] = lay
		chans[ll] = spec.out
	}
	return layers, nil
}

func identity(w []int8, n int) bool {
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			want := int8(0)
			if i == j {
				want = 1
			}
			if w[i*n+j] != want {
				return false
			}
		}
	}
	return true
}
