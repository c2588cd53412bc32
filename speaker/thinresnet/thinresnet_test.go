package thinresnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
)

// modelDir is the network's folder in ../shared/models. The network is an optional
// third-party model the shipped speaker model does not use yet (weights.Optional): the
// shared folder does not carry it, so its tests skip without it, under CI too, and run
// wherever `voxgate models pull` has fetched it there (or VOXGATE_SHARED points at a
// folder whose models/ holds it).
func modelDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(shared.Dir(t), "models", DirName)
	if _, err := os.Stat(filepath.Join(d, "weights.h")); err != nil {
		t.Skipf("optional model not installed (voxgate models pull --dir %s): %v", filepath.Dir(d), err)
	}
	return d
}

func loadNet(t testing.TB) *Net {
	t.Helper()
	n, err := Load(filepath.Dir(modelDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// knownAnswer reads sampledata.h (the input: CHW, 4 int8 a word, first in the low byte)
// and sampleoutput.h (address, mask, count, word: channel c in processor c, byte c%4).
func knownAnswer(t *testing.T, dir string) ([]int8, [Dim]int8) {
	t.Helper()
	read := func(name, def string) []uint32 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		d, err := defines(b)
		if err != nil || d[def] == nil {
			t.Fatalf("%s: no %s (%v)", name, def, err)
		}
		return d[def]
	}
	var x []int8
	for _, w := range read("sampledata.h", "SAMPLE_INPUT_0") {
		for i := 0; i < 4; i++ {
			x = append(x, int8(w>>(8*i)))
		}
	}
	var y [Dim]int8
	so := read("sampleoutput.h", "SAMPLE_OUTPUT")
	seen := 0
	for i := 0; so[i] != 0; i += 4 {
		rel := int(so[i] - sramBase)
		g, inst := rel/groupOffs, rel%groupOffs/0x8000
		if so[i+1] != 0xffffffff || so[i+2] != 1 || rel%0x8000 != 0 {
			t.Fatalf("unexpected sampleoutput.h entry at %d", i)
		}
		for b := 0; b < 4; b++ {
			y[g*16+inst*4+b] = int8(so[i+3] >> (8 * b))
			seen++
		}
	}
	if len(x) != Bands*Frames || seen != Dim {
		t.Fatalf("known answer has %d inputs and %d outputs", len(x), seen)
	}
	return x, y
}

func TestForwardReproducesTheAcceleratorsKnownAnswer(t *testing.T) {
	dir := modelDir(t)
	net := loadNet(t)
	x, want := knownAnswer(t, dir)
	if got := net.Forward(x, Hardware); got != want {
		t.Fatalf("Forward(sampledata.h) =\n%v\nwant sampleoutput.h\n%v", got, want)
	}
	// The order the weights were trained in computes something else from the same input.
	if got := net.Forward(x, Trained); got == want {
		t.Fatal("Trained order gave the hardware order's output")
	}
}

func TestDecodeRecoversTheTrainedLayers(t *testing.T) {
	net := loadNet(t)
	params := 0
	for _, l := range net.layers {
		if l.kind == convK {
			params += len(l.w) + len(l.b)
		}
	}
	// ai85net-sv.py's header: 314,000 weight bytes; plus one bias per output channel.
	if params != 314000+784 {
		t.Fatalf("%d parameters, want 314,784", params)
	}
}

func TestDecodeRejectsDamagedC(t *testing.T) {
	dir := modelDir(t)
	w, _ := os.ReadFile(filepath.Join(dir, "weights.h"))
	c, _ := os.ReadFile(filepath.Join(dir, "cnn.c"))
	cases := []struct {
		name    string
		w, c    []byte
		wantErr bool
	}{
		{"as generated", w, c, false},
		{"no kernels", []byte("#define BIAS_0 { 0x01 }"), c, true},
		{"no registers", w, nil, true},
		{"weights.h cut short", w[:len(w)/2], c, true},
		{"a kernel count off by one", w, bytes.Replace(c, []byte("= 0x0fe010d8;"), []byte("= 0x0fe010e0;"), -1), true},
		{"a bias offset past the bias memory", w, bytes.Replace(c, []byte("= 0x000250a0;"), []byte("= 0x00025fa0;"), 1), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.w, tc.c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestForwardIsSafeForConcurrentUse(t *testing.T) {
	net := loadNet(t)
	x, want := knownAnswer(t, modelDir(t))
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := net.Forward(x, Hardware); got != want {
				errs <- fmt.Sprint(got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Forward = %s", e)
	}
}

// testdata/parity.json: embeddings by the Python reference (train/speaker/thinresnet).
func TestEmbedMatchesThePythonReference(t *testing.T) {
	net := loadNet(t)
	var ref struct {
		Files []struct {
			Path      string    `json:"path"`
			Embedding []float64 `json:"embedding"`
			Segments  int       `json:"segments"`
		} `json:"files"`
	}
	b, err := os.ReadFile("testdata/parity.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	e := NewEmbedder(net)
	for _, f := range ref.Files {
		t.Run(filepath.Base(f.Path), func(t *testing.T) {
			got, secs := e.Embed(testaudio.Decode(t, shared.Path(t, f.Path)))
			dot := 0.0
			for i, v := range got {
				dot += float64(v) * f.Embedding[i]
			}
			// Go's and numpy's FFTs round differently, so an int8 input may land on the
			// other side of a rounding step; the embeddings stay within a hair.
			t.Logf("cosine with the Python embedding %.6f", dot)
			if dot < 0.999 || math.IsNaN(dot) {
				t.Fatalf("cosine with the Python embedding %.5f (%.2f s of audio)", dot, secs)
			}
		})
	}
}

func BenchmarkForward(b *testing.B) {
	net := loadNet(b)
	x := make([]int8, Bands*Frames)
	for i := range x {
		x[i] = int8(i*37%255 - 127)
	}
	b.ResetTimer()
	for b.Loop() {
		net.Forward(x, Trained)
	}
}

// BenchmarkEmbed4s embeds 4 s of speech (seven 1.3 s segments; four with a 1 s hop).
func BenchmarkEmbed4s(b *testing.B) {
	b.Run("hop=0.5s", func(b *testing.B) { benchEmbed4s(b, 0) })
	b.Run("hop=1s", func(b *testing.B) { benchEmbed4s(b, SampleRate) })
}

func benchEmbed4s(b *testing.B, hop int) {
	e := NewEmbedder(loadNet(b))
	e.Hop = hop
	w := testaudio.Decode(b, shared.Path(b, "voice-data/corpora/librispeech/test-other/1688/1688-142285-0000.flac"))[:4*SampleRate]
	b.ResetTimer()
	for b.Loop() {
		e.Embed(w)
	}
}
