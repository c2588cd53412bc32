// Package tensor is the one numeric representation shared by every model in
// voxgate: a flat []float32 in row-major order plus its shape, and the few
// dense kernels (matrix multiply above all) that the model ports build on.
//
// Layers live in the model packages (vad, antispoof, speaker) as small
// functions over Tensors; weight loading lives in safetensors and pytorch.
// Kernels write into destinations the caller owns, so buffers can be pooled.
//
// The matrix multiply is a packed-panel design: B is laid out in 16-column
// panels (Pack, once per weight matrix) and a register-blocked micro-kernel
// computes 6×16 tiles (AVX2+FMA) or 12×32 tiles (AVX-512) of C, reading A in
// place with any row stride, including rows that overlap, which lets a
// convolution read its input without an im2col copy. CPUs without AVX2 and
// FMA, and other architectures, run the same blocking in portable Go. Gemm
// keeps the BLAS-like interface and packs B on each large call; hot loops
// should Pack once and call GemmPacked.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense float32 array. Data is row-major: the last dimension
// varies fastest. The zero value is an empty scalar-less tensor.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// From wraps data (not copied) with shape. It panics when the sizes disagree,
// because a silent mismatch would corrupt every layer after it.
func From(data []float32, shape ...int) *Tensor {
	if n := Numel(shape); n != len(data) {
		panic(fmt.Sprintf("tensor.From: shape %v needs %d values, got %d", shape, n, len(data)))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements a shape holds.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Reshape returns a view with a new shape over the same data. One dimension
// may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		if d == -1 {
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 {
		s[infer] = len(t.Data) / known
	}
	return From(t.Data, s...)
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// String prints the shape and the first few values, for test failures.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.Shape)
	for i, v := range t.Data {
		if i == 6 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.5g", v)
	}
	b.WriteByte(']')
	return b.String()
}
