package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testTensor is one tensor for the test encoder: raw little-endian bytes.
type testTensor struct {
	name  string
	dtype DType
	shape []int
	raw   []byte
}

// encode writes a safetensors file the way the reference implementation
// does: tensors laid out in the given order, header padded with spaces to
// a multiple of 8 bytes.
func encode(t testing.TB, tensors []testTensor, metadata map[string]string) []byte {
	t.Helper()
	hdr := map[string]any{}
	if metadata != nil {
		hdr["__metadata__"] = metadata
	}
	var data []byte
	for _, tt := range tensors {
		hdr[tt.name] = map[string]any{
			"dtype":        tt.dtype,
			"shape":        tt.shape,
			"data_offsets": []int{len(data), len(data) + len(tt.raw)},
		}
		data = append(data, tt.raw...)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	return withHeader(js, data)
}

func withHeader(js, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	b = append(b, js...)
	return append(b, data...)
}

func f32Bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func f64Bytes(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func u16Bytes(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func sampleFile(t testing.TB) []byte {
	return encode(t, []testTensor{
		{"w.f32", F32, []int{2, 3}, f32Bytes(1, -2, 3.5, 0, 1e-20, -7)},
		{"w.f64", F64, []int{2}, f64Bytes(0.25, -1e300)},
		// 1, -2, 65504 (max half), smallest subnormal 2^-24, +Inf
		{"w.f16", F16, []int{5}, u16Bytes(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00)},
		// 1, -0.5, 3.140625
		{"w.bf16", BF16, []int{3, 1}, u16Bytes(0x3f80, 0xbf00, 0x4049)},
		{"scalar", F32, []int{}, f32Bytes(42)},
		{"empty", F32, []int{0, 4}, nil},
		{"ids", I64, []int{1}, make([]byte, 8)},
	}, map[string]string{"format": "pt"})
}

func TestParseConvertsFloatDTypes(t *testing.T) {
	f, err := Parse(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"w.f32", []int{2, 3}, []float32{1, -2, 3.5, 0, 1e-20, -7}},
		{"w.f64", []int{2}, []float32{0.25, float32(math.Inf(-1))}},
		{"w.f16", []int{5}, []float32{1, -2, 65504, 1.0 / (1 << 24), float32(math.Inf(1))}},
		{"w.bf16", []int{3, 1}, []float32{1, -0.5, 3.140625}},
		{"scalar", []int{}, []float32{42}},
		{"empty", []int{0, 4}, []float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := f.Tensor(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Shape, tc.shape) {
				t.Errorf("shape %v, want %v", x.Shape, tc.shape)
			}
			if !slices.Equal(x.Data, tc.want) {
				t.Errorf("data %v, want %v", x.Data, tc.want)
			}
		})
	}
}

func TestParseListsNamesAndMetadata(t *testing.T) {
	f, err := Parse(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"empty", "ids", "scalar", "w.bf16", "w.f16", "w.f32", "w.f64"}
	if got := f.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if md := f.Metadata(); md["format"] != "pt" || len(md) != 1 {
		t.Errorf("Metadata() = %v", md)
	}
	in, ok := f.Info("w.f32")
	if !ok || in.DType != F32 || in.End-in.Begin != 24 {
		t.Errorf("Info(w.f32) = %+v, %v", in, ok)
	}
	if _, err := f.Tensor("ids"); err == nil {
		t.Error("Tensor of an I64 tensor succeeded, want an error")
	}
	if _, err := f.Tensor("missing"); err == nil {
		t.Error("Tensor of a missing name succeeded")
	}
}

func TestHalfToFloat32MatchesDefinition(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := HalfToFloat32(uint16(h))
		exp := (h >> 10) & 0x1f
		mant := float64(h & 0x3ff)
		var want float64
		switch {
		case exp == 0x1f && mant != 0:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = mant * math.Pow(2, -24)
		default:
			want = (1 + mant/1024) * math.Pow(2, float64(exp-15))
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestParseRejectsMalformedFiles(t *testing.T) {
	valid := func(hdr string, data []byte) []byte { return withHeader([]byte(hdr), data) }
	four := f32Bytes(1)
	tests := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"too short", []byte{1, 2, 3}, "shorter"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "exceeds file size"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, MaxHeader+1), "exceeds limit"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds limit"},
		{"not an object", valid(`[1,2]`, nil), "not a JSON object"},
		{"bad json", valid(`{"a":`, nil), "header"},
		{"trailing data", valid(`{}{}`, nil), "trailing"},
		{"unknown dtype", valid(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, four), "unknown dtype"},
		{"offsets count", valid(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, four), "data_offsets"},
		{"offsets past end", valid(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, four), "outside"},
		{"offsets reversed", valid(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, four), "outside"},
		{"negative offset", valid(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, four), "outside"},
		{"shape mismatch", valid(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four), "larger than"},
		{"size mismatch", valid(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, four), "needs 2 bytes"},
		{"negative dim", valid(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four), "negative"},
		{"overflowing shape", valid(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, four), "larger than"},
		{"giant dim", valid(`{"a":{"dtype":"F32","shape":[1152921504606846976,0],"data_offsets":[0,0]}}`, nil), "too large"},
		{"wrapping shape", valid(`{"a":{"dtype":"U8","shape":[65536,65536,65536,65536],"data_offsets":[0,4]}}`, four), "larger than"},
		{"duplicate name", valid(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "duplicate"},
		{"overlap", valid(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "overlaps"},
		{"hole", valid(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "hole"},
		{"unindexed tail", valid(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, four), "not indexed"},
		{"metadata not strings", valid(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"shape not ints", valid(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,4]}}`, four), "header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestOpenReadsFileFromDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, sampleFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.Tensor("w.f32")
	if err != nil || x.Data[2] != 3.5 {
		t.Fatalf("Tensor(w.f32) = %v, %v", x, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(bad, binary.LittleEndian.AppendUint64(nil, 1<<40), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil {
		t.Error("Open of a forged header length succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

func FuzzParse(f *testing.F) {
	good := sampleFile(f)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(good[:20])
	f.Add(encode(f, nil, nil))
	f.Add(encode(f, []testTensor{{"x", BF16, []int{1, 2}, u16Bytes(1, 2)}}, map[string]string{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			in, _ := file.Info(name)
			x, err := file.Tensor(name)
			switch in.DType {
			case F32, F16, BF16, F64:
				if err != nil {
					t.Fatalf("Tensor(%q): %v", name, err)
				}
				n := 1
				for _, d := range x.Shape {
					n *= d
				}
				if n != len(x.Data) {
					t.Fatalf("Tensor(%q): shape %v with %d values", name, x.Shape, len(x.Data))
				}
			}
		}
	})
}
