// Package pytorch reads PyTorch checkpoints (the zip format torch.save has
// written since version 1.6) into tensors, so that model ports can load the
// authors' published weights without Python.
//
// A checkpoint is a zip holding <name>/data.pkl, a pickle of the state dict,
// and one raw little-endian file <name>/data/<key> per storage. The pickle
// names storages through persistent ids and builds tensors as strided views
// of them; Load resolves those views into contiguous row-major float32
// tensors keyed by their state-dict names.
//
// Checkpoints are treated as hostile input: only the pickle opcodes and the
// handful of callables a state dict needs are accepted, every size and
// stride is checked against its storage, and nothing a file claims is
// allocated before it has been shown to fit in the file.
package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"voxgate/tensor"
)

// Limits on what Load accepts; a state dict of the models voxgate runs is far
// below each of them.
const (
	// MaxPickleBytes bounds data.pkl.
	MaxPickleBytes = 64 << 20
	// MaxTensorElems bounds the number of elements of one tensor or storage.
	MaxTensorElems = 1 << 28
	// MaxTotalBytes bounds the storage bytes read from one checkpoint.
	MaxTotalBytes = 2 << 30
	// maxRank bounds the number of dimensions of a tensor.
	maxRank = 16
)

// dtype is a storage element type.
type dtype int

const (
	float32T dtype = iota
	float64T
	float16T
	bfloat16T
	int64T
	int32T
	int16T
	int8T
	uint8T
	boolT
)

var storageTypes = map[string]dtype{
	"FloatStorage":    float32T,
	"DoubleStorage":   float64T,
	"HalfStorage":     float16T,
	"BFloat16Storage": bfloat16T,
	"LongStorage":     int64T,
	"IntStorage":      int32T,
	"ShortStorage":    int16T,
	"CharStorage":     int8T,
	"ByteStorage":     uint8T,
	"BoolStorage":     boolT,
}

func (d dtype) size() int64 {
	switch d {
	case float64T, int64T:
		return 8
	case float32T, int32T:
		return 4
	case float16T, bfloat16T, int16T:
		return 2
	}
	return 1
}

// Load reads the state dict in the checkpoint at path. Tensors of every
// numeric dtype are converted to float32 (integer buffers such as
// BatchNorm's num_batches_tracked included). Nested dicts, as in
// {"model": state_dict}, are flattened with dotted keys.
func Load(path string) (map[string]*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("pytorch: %s: %w", path, err)
	}
	return m, nil
}

// Read is Load over an already opened checkpoint of the given size.
func Read(r io.ReaderAt, size int64) (m map[string]*tensor.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("malformed checkpoint: %v", p)
		}
	}()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a zip checkpoint (the legacy format of PyTorch before 1.6 is not supported): %w", err)
	}
	files := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		files[f.Name] = f
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			if pkl != nil {
				return nil, errors.New("more than one data.pkl")
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("no <name>/data.pkl: not a PyTorch zip checkpoint")
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	data, err := readEntry(pkl, MaxPickleBytes)
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	u := &unpickler{data: data, persistentLoad: persistentStorage}
	root, err := u.run()
	if err != nil {
		return nil, err
	}
	refs := map[string]*tensorRef{}
	if err := collect(root, "", refs, 0); err != nil {
		return nil, err
	}
	// Storages are little-endian unless a byteorder record (PyTorch 2.1 and
	// later) says otherwise.
	var order binary.ByteOrder = binary.LittleEndian
	if f, ok := files[prefix+"byteorder"]; ok {
		b, err := readEntry(f, 16)
		if err != nil {
			return nil, fmt.Errorf("byteorder: %w", err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			order = binary.BigEndian
		default:
			return nil, fmt.Errorf("unknown byteorder %q", b)
		}
	}
	l := loader{files: files, prefix: prefix, storages: map[string][]byte{}, order: order}
	out := make(map[string]*tensor.Tensor, len(refs))
	names := make([]string, 0, len(refs))
	for k := range refs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t, err := l.tensor(refs[k])
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", k, err)
		}
		out[k] = t
	}
	return out, nil
}

// persistentStorage resolves ('storage', storage_type, key, location, numel).
func persistentStorage(pid pyTuple) (any, error) {
	if len(pid) != 5 {
		return nil, errors.New("persistent id is not a 5-tuple")
	}
	if s, _ := pid[0].(string); s != "storage" {
		return nil, errors.New("persistent id is not a storage")
	}
	g, ok := pid[1].(pyGlobal)
	if !ok || g.module != "torch" {
		return nil, errors.New("unknown storage type")
	}
	dt, ok := storageTypes[g.name]
	if !ok {
		return nil, fmt.Errorf("unsupported storage type torch.%s", g.name)
	}
	key, ok := pid[2].(string)
	if !ok || key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return nil, errors.New("bad storage key")
	}
	n, ok := pid[4].(int64)
	if !ok || n < 0 || n > MaxTensorElems {
		return nil, errors.New("bad storage size")
	}
	return storageRef{dtype: dt, key: key, numel: n}, nil
}

// collect walks the unpickled root and records every tensor under its
// dotted name.
func collect(v any, prefix string, out map[string]*tensorRef, depth int) error {
	if depth > 8 {
		return errors.New("state dict nested too deeply")
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("checkpoint root is %T, not a dict", v)
	}
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			continue
		}
		switch x := d.vals[k].(type) {
		case *tensorRef:
			out[prefix+name] = x
		case *pyDict:
			if err := collect(x, prefix+name+".", out, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

type loader struct {
	files    map[string]*zip.File
	prefix   string
	storages map[string][]byte
	total    int64
	order    binary.ByteOrder
}

// storage returns the raw bytes of a storage, reading each one once.
func (l *loader) storage(s storageRef) ([]byte, error) {
	want := s.numel * s.dtype.size()
	if b, ok := l.storages[s.key]; ok {
		if int64(len(b)) < want {
			return nil, errors.New("storage shared with a smaller type")
		}
		return b, nil
	}
	f, ok := l.files[l.prefix+"data/"+s.key]
	if !ok {
		return nil, fmt.Errorf("storage %s missing from the archive", s.key)
	}
	if l.total+want > MaxTotalBytes {
		return nil, errors.New("checkpoint larger than MaxTotalBytes")
	}
	if f.UncompressedSize64 < uint64(want) {
		return nil, fmt.Errorf("storage %s holds %d bytes, need %d", s.key, f.UncompressedSize64, want)
	}
	b, err := readEntry(f, want)
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", s.key, err)
	}
	if int64(len(b)) < want {
		return nil, fmt.Errorf("storage %s truncated", s.key)
	}
	l.total += int64(len(b))
	l.storages[s.key] = b
	return b, nil
}

// tensor gathers a strided view into a contiguous float32 tensor.
func (l *loader) tensor(r *tensorRef) (*tensor.Tensor, error) {
	if len(r.size) > maxRank {
		return nil, errors.New("rank too large")
	}
	if r.offset < 0 {
		return nil, errors.New("negative storage offset")
	}
	n := int64(1)
	last := r.offset // largest storage index the view touches
	for i, d := range r.size {
		if d < 0 || r.stride[i] < 0 {
			return nil, errors.New("negative size or stride")
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > MaxTensorElems/d {
			return nil, errors.New("tensor too large")
		}
		n *= d
		if r.stride[i] > MaxTensorElems {
			return nil, errors.New("stride out of range")
		}
		last += (d - 1) * r.stride[i]
	}
	shape := make([]int, len(r.size))
	for i, d := range r.size {
		shape[i] = int(d)
	}
	if n == 0 {
		return tensor.New(shape...), nil
	}
	if last >= r.storage.numel {
		return nil, fmt.Errorf("view reaches element %d of a %d-element storage", last, r.storage.numel)
	}
	// A view with more elements than its storage repeats elements through a
	// zero stride (an expanded tensor); state dicts never hold one, and
	// refusing it keeps the output no larger than the bytes in the file.
	if n > r.storage.numel {
		return nil, errors.New("view larger than its storage")
	}
	raw, err := l.storage(r.storage)
	if err != nil {
		return nil, err
	}
	t := tensor.New(shape...)
	conv := converter(r.storage.dtype, l.order)
	es := r.storage.dtype.size()
	// Walk the view in row-major order with an odometer over the indices.
	idx := make([]int64, len(r.size))
	pos := r.offset
	for i := range t.Data {
		t.Data[i] = conv(raw[pos*es : pos*es+es])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += r.stride[d]
			if idx[d] < r.size[d] {
				break
			}
			pos -= idx[d] * r.stride[d]
			idx[d] = 0
		}
	}
	return t, nil
}

func converter(d dtype, o binary.ByteOrder) func([]byte) float32 {
	switch d {
	case float64T:
		return func(b []byte) float32 { return float32(math.Float64frombits(o.Uint64(b))) }
	case float16T:
		return func(b []byte) float32 { return halfToFloat(o.Uint16(b)) }
	case bfloat16T:
		return func(b []byte) float32 { return math.Float32frombits(uint32(o.Uint16(b)) << 16) }
	case int64T:
		return func(b []byte) float32 { return float32(int64(o.Uint64(b))) }
	case int32T:
		return func(b []byte) float32 { return float32(int32(o.Uint32(b))) }
	case int16T:
		return func(b []byte) float32 { return float32(int16(o.Uint16(b))) }
	case int8T:
		return func(b []byte) float32 { return float32(int8(b[0])) }
	case uint8T, boolT:
		return func(b []byte) float32 { return float32(b[0]) }
	}
	return func(b []byte) float32 { return math.Float32frombits(o.Uint32(b)) }
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// readEntry reads a zip entry of at most limit bytes.
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("entry of %d bytes exceeds the limit of %d", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The buffer grows with the bytes actually inflated, not with the size
	// the header claims.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, limit)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
