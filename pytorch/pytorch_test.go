package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"voxgate/internal/shared"
)

func TestLoadReadsAASISTStateDict(t *testing.T) {
	sd, err := Load(filepath.Join(shared.Dir(t), "models", "aasist", "AASIST.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != 229 {
		t.Errorf("got %d tensors, want 229", len(sd))
	}
	// Values printed by torch.load for the same file.
	for _, tc := range []struct {
		name         string
		shape        []int
		first, last  float32
		sum          float64
		sumTolerance float64
	}{
		{"pos_S", []int{1, 23, 64}, -0.8833863735198975, -0.10022959113121033, 17.270202293264447, 1e-4},
		{"encoder.2.0.conv1.weight", []int{64, 32, 2, 3}, -0.0531143844127655, -0.019828777760267258, 10.328294231381733, 1e-4},
		{"out_layer.weight", []int{2, 160}, 0.008815627545118332, 0.11614696681499481, -0.5300438744015992, 1e-5},
		{"first_bn.running_var", []int{1}, 5.398794019129127e-05, 5.398794019129127e-05, 5.398794019129127e-05, 1e-12},
		{"encoder.0.0.bn2.num_batches_tracked", []int{}, 106757, 106757, 106757, 0},
	} {
		x, ok := sd[tc.name]
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if !sameShape(x.Shape, tc.shape) {
			t.Errorf("%s: shape %v, want %v", tc.name, x.Shape, tc.shape)
			continue
		}
		var s float64
		for _, v := range x.Data {
			s += float64(v)
		}
		if x.Data[0] != tc.first || x.Data[len(x.Data)-1] != tc.last || math.Abs(s-tc.sum) > tc.sumTolerance {
			t.Errorf("%s: first %v last %v sum %v, want %v %v %v", tc.name, x.Data[0], x.Data[len(x.Data)-1], s, tc.first, tc.last, tc.sum)
		}
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fakeTensor describes one entry of a synthetic checkpoint.
type fakeTensor struct {
	name          string
	storage       string // storage key; entries may share one
	storageType   string // e.g. "FloatStorage"
	numel         int
	offset        int
	size, stride  []int
	data          []byte // storage bytes, written once per key
	requiresParam bool   // wrap in torch._utils._rebuild_parameter
}

// buildCheckpoint writes a zip checkpoint as torch.save (protocol 2) would.
func buildCheckpoint(ts []fakeTensor) []byte { return buildCheckpointOrder(ts, "") }

// buildCheckpointOrder adds a byteorder record unless order is empty.
func buildCheckpointOrder(ts []fakeTensor, order string) []byte {
	var p bytes.Buffer
	str := func(s string) {
		p.WriteByte('X')
		binary.Write(&p, binary.LittleEndian, uint32(len(s)))
		p.WriteString(s)
	}
	integer := func(v int) {
		p.WriteByte('J')
		binary.Write(&p, binary.LittleEndian, int32(v))
	}
	tuple := func(vs []int) {
		p.WriteByte('(')
		for _, v := range vs {
			integer(v)
		}
		p.WriteByte('t')
	}
	p.WriteString("\x80\x02ccollections\nOrderedDict\nq\x00)R(")
	for _, tc := range ts {
		str(tc.name)
		if tc.requiresParam {
			p.WriteString("ctorch._utils\n_rebuild_parameter\n(")
		}
		p.WriteString("ctorch._utils\n_rebuild_tensor_v2\n((")
		str("storage")
		p.WriteString("ctorch\n" + tc.storageType + "\n")
		str(tc.storage)
		str("cpu")
		integer(tc.numel)
		p.WriteString("tQ")
		integer(tc.offset)
		tuple(tc.size)
		tuple(tc.stride)
		p.WriteString("\x89h\x00)RtR")
		if tc.requiresParam {
			p.WriteString("\x88h\x00)RtR")
		}
	}
	p.WriteString("u}bq\x01.") // SETITEMS, BUILD with an empty _metadata, STOP
	var z bytes.Buffer
	w := zip.NewWriter(&z)
	f, _ := w.Create("archive/data.pkl")
	f.Write(p.Bytes())
	seen := map[string]bool{}
	for _, tc := range ts {
		if seen[tc.storage] {
			continue
		}
		seen[tc.storage] = true
		f, _ := w.Create("archive/data/" + tc.storage)
		f.Write(tc.data)
	}
	if order != "" {
		f, _ := w.Create("archive/byteorder")
		f.Write([]byte(order))
	}
	f, _ = w.Create("archive/version")
	f.Write([]byte("3\n"))
	w.Close()
	return z.Bytes()
}

func float32Bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func seq(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

func TestReadResolvesStridedViews(t *testing.T) {
	store := float32Bytes(seq(12)...)
	half := []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00} // 1, -2, 2^-24
	long := make([]byte, 16)
	binary.LittleEndian.PutUint64(long, 7)
	binary.LittleEndian.PutUint64(long[8:], uint64(1<<40))
	ck := buildCheckpoint([]fakeTensor{
		{name: "plain", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{3, 4}, stride: []int{4, 1}, data: store},
		{name: "transposed", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{4, 3}, stride: []int{1, 4}, data: store, requiresParam: true},
		{name: "offset", storage: "0", storageType: "FloatStorage", numel: 12, offset: 5, size: []int{2, 2}, stride: []int{3, 2}, data: store},
		{name: "scalar", storage: "0", storageType: "FloatStorage", numel: 12, offset: 11, size: []int{}, stride: []int{}, data: store},
		{name: "empty", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{0, 4}, stride: []int{4, 1}, data: store},
		{name: "half", storage: "1", storageType: "HalfStorage", numel: 3, size: []int{3}, stride: []int{1}, data: half},
		{name: "long", storage: "2", storageType: "LongStorage", numel: 2, size: []int{2}, stride: []int{1}, data: long},
	})
	sd, err := Read(bytes.NewReader(ck), int64(len(ck)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"plain", []int{3, 4}, seq(12)},
		{"transposed", []int{4, 3}, []float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}},
		{"offset", []int{2, 2}, []float32{5, 7, 8, 10}},
		{"scalar", []int{}, []float32{11}},
		{"empty", []int{0, 4}, []float32{}},
		{"half", []int{3}, []float32{1, -2, 1.0 / (1 << 24)}},
		{"long", []int{2}, []float32{7, 1 << 40}},
	} {
		x := sd[tc.name]
		if x == nil {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if !sameShape(x.Shape, tc.shape) || len(x.Data) != len(tc.want) {
			t.Errorf("%s: got %v, want shape %v", tc.name, x, tc.shape)
			continue
		}
		for i := range tc.want {
			if x.Data[i] != tc.want[i] {
				t.Errorf("%s: got %v, want %v", tc.name, x.Data, tc.want)
				break
			}
		}
	}
}

func TestReadRejectsMalformedCheckpoints(t *testing.T) {
	store := float32Bytes(seq(12)...)
	good := fakeTensor{name: "w", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{3, 4}, stride: []int{4, 1}, data: store}
	mod := func(f func(*fakeTensor)) []byte {
		tc := good
		f(&tc)
		return buildCheckpoint([]fakeTensor{tc})
	}
	full := buildCheckpoint([]fakeTensor{good})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a zip", []byte("hello"), "zip"},
		{"view past storage", mod(func(f *fakeTensor) { f.offset = 1 }), "reaches element"},
		{"stride past storage", mod(func(f *fakeTensor) { f.stride = []int{5, 1} }), "reaches element"},
		{"negative stride", mod(func(f *fakeTensor) { f.stride = []int{-4, 1} }), "negative"},
		{"short storage file", mod(func(f *fakeTensor) { f.data = f.data[:40] }), "holds 40 bytes"},
		{"storage numel huge", mod(func(f *fakeTensor) { f.numel = 1 << 30 }), "bad storage size"},
		{"expanded view", mod(func(f *fakeTensor) { f.size = []int{100, 100}; f.stride = []int{0, 0} }), "larger than its storage"},
		{"unknown storage type", mod(func(f *fakeTensor) { f.storageType = "QInt8Storage" }), "unsupported storage"},
		{"path in key", mod(func(f *fakeTensor) { f.storage = "../x" }), "bad storage key"},
		{"rank mismatch", mod(func(f *fakeTensor) { f.stride = []int{1} }), "rank"},
		{"truncated pickle", truncatePickle(full), "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// truncatePickle rewrites a checkpoint with its data.pkl cut in half.
func truncatePickle(ck []byte) []byte {
	zr, _ := zip.NewReader(bytes.NewReader(ck), int64(len(ck)))
	var z bytes.Buffer
	w := zip.NewWriter(&z)
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		data := b.Bytes()
		if strings.HasSuffix(f.Name, "data.pkl") {
			data = data[:len(data)/2]
		}
		out, _ := w.Create(f.Name)
		out.Write(data)
	}
	w.Close()
	return z.Bytes()
}

func TestUnpicklerRejectsHostileOpcodes(t *testing.T) {
	for _, tc := range []struct {
		name, pickle, want string
	}{
		{"huge BINBYTES8", "\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", "truncated"},
		{"huge BINUNICODE", "\x80\x02X\xff\xff\xff\xff", "truncated"},
		{"unknown callable", "\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", "unsupported callable"},
		{"memo miss", "\x80\x02h\x07.", "memo"},
		{"underflow", "\x80\x02R.", "underflow"},
		{"bad protocol", "\x80\x09.", "protocol"},
		{"wide long", "\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", "64 bits"},
		{"setitem on list", "\x80\x02]K\x01K\x02s.", "non-dict"},
		{"unknown opcode", "\x80\x02\xff", "unsupported opcode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unpickler{data: []byte(tc.pickle), persistentLoad: persistentStorage}
			_, err := u.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestUnpicklerDecodesScalars(t *testing.T) {
	u := &unpickler{data: []byte("\x80\x02(J\xfe\xff\xff\xff\x8a\x02\x00\x80G?\xf0\x00\x00\x00\x00\x00\x00\x8c\x02hiN\x88t.")}
	v, err := u.run()
	if err != nil {
		t.Fatal(err)
	}
	got := v.(pyTuple)
	want := pyTuple{int64(-2), int64(-32768), 1.0, "hi", pyNone{}, true}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("item %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

// FuzzRead feeds arbitrary bytes, and mutations of valid checkpoints, through
// the zip and pickle parsers: Read must return an error or tensors, never
// panic or allocate without bound.
func FuzzRead(f *testing.F) {
	store := float32Bytes(seq(12)...)
	f.Add(buildCheckpoint([]fakeTensor{
		{name: "a", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{3, 4}, stride: []int{4, 1}, data: store},
		{name: "b", storage: "0", storageType: "FloatStorage", numel: 12, offset: 2, size: []int{2, 3}, stride: []int{1, 3}, data: store, requiresParam: true},
	}))
	f.Add(buildCheckpoint([]fakeTensor{
		{name: "h", storage: "k", storageType: "HalfStorage", numel: 2, size: []int{2}, stride: []int{1}, data: []byte{0, 0x3c, 0, 0xc0}},
	}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for k, v := range sd {
			n := 1
			for _, d := range v.Shape {
				n *= d
			}
			if n != len(v.Data) {
				t.Fatalf("%s: shape %v with %d values", k, v.Shape, len(v.Data))
			}
		}
	})
}

// FuzzUnpickle drives the pickle machine directly, where mutations are more
// likely to reach deep opcodes than through the zip checksum.
func FuzzUnpickle(f *testing.F) {
	ck := buildCheckpoint([]fakeTensor{
		{name: "a", storage: "0", storageType: "FloatStorage", numel: 12, size: []int{3, 4}, stride: []int{4, 1}, data: float32Bytes(seq(12)...), requiresParam: true},
	})
	zr, _ := zip.NewReader(bytes.NewReader(ck), int64(len(ck)))
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "data.pkl") {
			rc, _ := zf.Open()
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			f.Add(b.Bytes())
		}
	}
	f.Add([]byte("\x80\x02(J\xfe\xff\xff\xff\x8a\x02\x00\x80G?\xf0\x00\x00\x00\x00\x00\x00\x8c\x02hiN\x88t."))
	f.Fuzz(func(t *testing.T, data []byte) {
		u := &unpickler{data: data, persistentLoad: persistentStorage}
		v, err := u.run()
		if err != nil {
			return
		}
		refs := map[string]*tensorRef{}
		_ = collect(v, "", refs, 0)
	})
}

func TestReadHonoursByteOrderRecord(t *testing.T) {
	be := make([]byte, 8)
	binary.BigEndian.PutUint32(be, math.Float32bits(1.5))
	binary.BigEndian.PutUint32(be[4:], math.Float32bits(-2))
	tc := fakeTensor{name: "w", storage: "0", storageType: "FloatStorage", numel: 2, size: []int{2}, stride: []int{1}, data: be}
	ck := buildCheckpointOrder([]fakeTensor{tc}, "big")
	sd, err := Read(bytes.NewReader(ck), int64(len(ck)))
	if err != nil {
		t.Fatal(err)
	}
	if got := sd["w"].Data; got[0] != 1.5 || got[1] != -2 {
		t.Fatalf("got %v, want [1.5 -2]", got)
	}
	ck = buildCheckpointOrder([]fakeTensor{tc}, "middle")
	if _, err := Read(bytes.NewReader(ck), int64(len(ck))); err == nil || !strings.Contains(err.Error(), "byteorder") {
		t.Fatalf("got %v, want a byteorder error", err)
	}
}
