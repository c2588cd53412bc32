package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"time"

	"voxgate/gallery"
	"voxgate/speaker"
)

// runBenchIdentify measures the identification index on a synthetic
// gallery (args follow the word identify):
//
//	voxgate bench identify [--gallery N] [--probes P] [--json]
func runBenchIdentify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench identify", stdout)
	n := fs.Int("gallery", 10_000, "voices in the synthetic gallery")
	probes := fs.Int("probes", 50, "searches timed")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		if err == errHelp {
			return nil
		}
		return err
	}
	if *n < 1 || *probes < 1 {
		return usagef("bench identify", "--gallery and --probes must be positive")
	}
	r, err := benchIdentify(ctx, *n, *probes)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "identify: gallery %d voices, %d searches, top 5, %d CPUs\n", r.Gallery, r.Probes, r.CPUs)
	fmt.Fprintf(stdout, "  search  median %.2f ms  p95 %.2f ms  max %.2f ms\n", r.MedianMs, r.P95Ms, r.MaxMs)
	fmt.Fprintf(stdout, "  memory  %s per voice (%.0f bytes), %s in all\n", bytesText(r.BytesPerVoice), r.BytesPerVoice, bytesText(r.BytesPerVoice*float64(r.Gallery)))
	fmt.Fprintf(stdout, "  build   %.1f s\n", r.BuildSeconds)
	return nil
}

type identifyBenchResult struct {
	Gallery       int     `json:"gallery"`
	Probes        int     `json:"probes"`
	CPUs          int     `json:"cpus"`
	MedianMs      float64 `json:"median_ms"`
	P95Ms         float64 `json:"p95_ms"`
	MaxMs         float64 `json:"max_ms"`
	BytesPerVoice float64 `json:"bytes_per_voice"`
	BuildSeconds  float64 `json:"build_s"`
}

// benchIdentify builds a gallery of n random voices (Gaussian vectors with
// the upper band, which is what wideband enrollments have) with a tenant
// cohort of 256 of them, and times probes searches of a voice near one of
// them, exact re-score included.
func benchIdentify(ctx context.Context, n, probes int) (*identifyBenchResult, error) {
	m, err := speaker.Load()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	voice := func() []float32 {
		v := make([]float32, speaker.Dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	x := gallery.New(m)
	var owners []string
	var embs [][]float32
	for i := 0; i < n; i++ {
		if i%1000 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		u := "user-" + strconv.Itoa(i)
		v := voice()
		x.Put(u, v)
		if len(embs) < 256 {
			owners, embs = append(owners, u), append(embs, v)
		}
	}
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	domain := m.NewCohort(owners, embs)
	c := m.Calibrate(speaker.DefaultTargetFAR)
	times := make([]float64, 0, probes)
	for i := 0; i < probes+3; i++ {
		probe := voice()
		t0 := time.Now()
		x.Search(probe, 5, nil, c, domain)
		if i >= 3 { // the first searches fill the s-norm caches
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	slices.Sort(times)
	perVoice := float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc)) / float64(n)
	return &identifyBenchResult{Gallery: n, Probes: probes, CPUs: runtime.GOMAXPROCS(0),
		MedianMs: times[len(times)/2], P95Ms: times[(len(times)*95)/100], MaxMs: times[len(times)-1],
		BytesPerVoice: perVoice, BuildSeconds: build.Seconds()}, nil
}

func bytesText(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.2f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
