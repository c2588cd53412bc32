// Package safetensors reads the safetensors weight format: an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then one flat byte buffer holding every tensor.
//
// The reader treats every file as hostile. The header is bounded (MaxHeader),
// every byte range is checked against its dtype and shape and against the
// buffer, ranges may neither overlap nor leave holes (the format forbids
// both, which rules out polyglot files), and no input makes it panic.
// Floating-point tensors (F32, F16, BF16, F64) are returned as float32
// tensor.Tensors; the other dtypes of the format are validated and listed
// but not converted.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"voxgate/tensor"
)

// MaxHeader is the largest JSON header accepted, in bytes. Real headers are
// a few kilobytes per thousand tensors; the bound stops a forged length from
// making the reader allocate gigabytes.
const MaxHeader = 100 << 20

// DType names an element type as the header spells it.
type DType string

// The dtypes of the format. F32, F16, BF16 and F64 convert to float32.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E4M3, F8E5M2:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// Info describes one tensor of a file. Begin and End are byte offsets into
// the data buffer that follows the header (End exclusive).
type Info struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int
}

// File is a parsed safetensors file held in memory. It is read-only after
// Parse and safe for concurrent use.
type File struct {
	data     []byte // the byte buffer after the header
	infos    map[string]Info
	names    []string // sorted
	metadata map[string]string
}

// Open reads and parses the file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Check the header length before reading everything, so a forged
	// length fails fast without a large read.
	var pre [8]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeader || int64(n) > st.Size()-8 {
		return nil, fmt.Errorf("safetensors: %s: header length %d out of range for a %d-byte file", path, n, st.Size())
	}
	b := make([]byte, st.Size())
	copy(b, pre[:])
	if _, err := io.ReadFull(f, b[8:]); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	file, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return file, nil
}

// headerEntry is one tensor entry of the JSON header.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Parse parses a complete safetensors file held in b. The returned File
// keeps b and reads tensors from it, so b must not be modified afterwards.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, errors.New("safetensors: file shorter than the 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeader {
		return nil, fmt.Errorf("safetensors: header length %d exceeds limit %d", n, MaxHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds file size %d", n, len(b))
	}
	hdr := b[8 : 8+n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("safetensors: header is not a JSON object")
	}
	f := &File{data: b[8+n:], infos: make(map[string]Info)}
	if err := f.parseHeader(hdr); err != nil {
		return nil, err
	}
	if err := f.checkCoverage(); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader decodes the JSON object key by key, so duplicate names are
// caught instead of silently keeping the last one.
func (f *File) parseHeader(hdr []byte) error {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil { // '{'
		return fmt.Errorf("safetensors: header: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors: header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("safetensors: header: unexpected token %v", tok)
		}
		if name == "__metadata__" {
			if f.metadata != nil {
				return errors.New("safetensors: header: duplicate __metadata__")
			}
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return fmt.Errorf("safetensors: header: __metadata__ must map strings to strings: %w", err)
			}
			if md == nil {
				md = map[string]string{}
			}
			f.metadata = md
			continue
		}
		if _, dup := f.infos[name]; dup {
			return fmt.Errorf("safetensors: header: duplicate tensor %q", name)
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("safetensors: header: tensor %q: %w", name, err)
		}
		info, err := f.check(name, e)
		if err != nil {
			return err
		}
		f.infos[name] = info
		f.names = append(f.names, name)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("safetensors: header: %w", err)
	}
	// Only padding may follow the object.
	if rest := bytes.TrimLeft(hdr[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return errors.New("safetensors: header: trailing data after the JSON object")
	}
	sort.Strings(f.names)
	return nil
}

// check validates one entry against its dtype and the data buffer.
func (f *File) check(name string, e headerEntry) (Info, error) {
	size := e.DType.Size()
	if size == 0 {
		return Info{}, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return Info{}, fmt.Errorf("safetensors: tensor %q: data_offsets needs 2 values, got %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > int64(len(f.data)) {
		return Info{}, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d-byte buffer", name, begin, end, len(f.data))
	}
	// The element count is bounded by the byte range, so an overflowing
	// product is caught before it wraps.
	limit := (end - begin) / int64(size)
	shape := make([]int, len(e.Shape))
	empty := false
	for i, d := range e.Shape {
		if d < 0 {
			return Info{}, fmt.Errorf("safetensors: tensor %q: negative dimension %d", name, d)
		}
		if d > math.MaxInt32*int64(1<<20) {
			return Info{}, fmt.Errorf("safetensors: tensor %q: dimension %d too large", name, d)
		}
		empty = empty || d == 0
		shape[i] = int(d)
	}
	numel := int64(0)
	if !empty {
		// The element count is bounded by the byte range, so an
		// overflowing product is caught before it wraps.
		numel = 1
		for _, d := range e.Shape {
			if numel > limit/d {
				return Info{}, fmt.Errorf("safetensors: tensor %q: shape %v larger than its %d bytes", name, e.Shape, end-begin)
			}
			numel *= d
		}
	}
	if numel*int64(size) != end-begin {
		return Info{}, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, data_offsets give %d", name, e.Shape, e.DType, numel*int64(size), end-begin)
	}
	return Info{Name: name, DType: e.DType, Shape: shape, Begin: int(begin), End: int(end)}, nil
}

// checkCoverage enforces that the tensors tile the data buffer exactly.
func (f *File) checkCoverage() error {
	infos := make([]Info, 0, len(f.infos))
	for _, in := range f.infos {
		infos = append(infos, in)
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if a.Begin != b.Begin {
			return a.Begin - b.Begin
		}
		return a.End - b.End
	})
	pos := 0
	for _, in := range infos {
		if in.Begin != pos {
			if in.Begin < pos {
				return fmt.Errorf("safetensors: tensor %q overlaps another tensor", in.Name)
			}
			return fmt.Errorf("safetensors: hole in data buffer before tensor %q (bytes %d to %d)", in.Name, pos, in.Begin)
		}
		pos = in.End
	}
	if pos != len(f.data) {
		return fmt.Errorf("safetensors: %d bytes after the last tensor are not indexed", len(f.data)-pos)
	}
	return nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	if ok {
		in.Shape = slices.Clone(in.Shape)
	}
	return in, ok
}

// Metadata returns the free-form string map stored under __metadata__, or
// nil when the file has none.
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return nil
	}
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

// Tensor returns a float32 copy of the named tensor. F32, F16, BF16 and F64
// are converted; other dtypes are an error.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	in, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: no tensor %q", name)
	}
	raw := f.data[in.Begin:in.End]
	out := make([]float32, len(raw)/max(in.DType.Size(), 1))
	switch in.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q has dtype %s, not a floating-point type", name, in.DType)
	}
	return &tensor.Tensor{Shape: slices.Clone(in.Shape), Data: out}, nil
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 exactly,
// including subnormals, infinities and NaNs.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24, exact in float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
