package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"voxgate/timing"
)

// benchReport is what `voxgate bench` prints.
type benchReport struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// Nodes is how many servers the requests were spread over.
	Nodes       int        `json:"nodes"`
	Concurrency int        `json:"concurrency"`
	Requests    int        `json:"requests_per_run"`
	ProbeS      float64    `json:"probe_s,omitempty"`
	EnrollS     float64    `json:"enroll_s"`
	ClientCPUs  int        `json:"client_cpus"`
	Runs        []benchSum `json:"runs"`
	// Median is each figure's median over the runs.
	Median benchSum `json:"median"`
	// PeakRSSBytes is the server's peak resident memory (started or --pid
	// servers only).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// benchSum summarises one measured run.
type benchSum struct {
	OK         int            `json:"ok"`
	Failed     int            `json:"failed"`
	Statuses   map[string]int `json:"statuses,omitempty"`
	Decisions  map[string]int `json:"decisions,omitempty"`
	WallS      float64        `json:"wall_s"`
	Throughput float64        `json:"per_second"`
	P50ms      float64        `json:"p50_ms"`
	P90ms      float64        `json:"p90_ms"`
	P99ms      float64        `json:"p99_ms"`
	MeanMs     float64        `json:"mean_ms"`
	// CPUPerRequestS is the server process's CPU seconds per request (0:
	// unknown, a --url server without --pid).
	CPUPerRequestS float64 `json:"cpu_s_per_request"`
	// StagesMs is each Server-Timing stage's mean per request, and "other"
	// what the server's total holds beside them (auth, multipart, cohort,
	// scoring, JSON); empty when the server does not send the header.
	StagesMs map[string]float64 `json:"stages_ms,omitempty"`
	// StageShare is each stage's share of the server's total time.
	StageShare map[string]float64 `json:"stage_share,omitempty"`
	FirstError string             `json:"first_error,omitempty"`
}

func benchRun(ctx context.Context, kind string, o benchOptions, t *benchServer, stderr io.Writer) (*benchReport, error) {
	c := &benchClient{urls: t.urls, key: t.key, http: &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.c, MaxConnsPerHost: 0},
	}}
	rep := &benchReport{Kind: kind, URL: strings.Join(t.urls, ","), Nodes: len(t.urls), Concurrency: o.c, Requests: o.n, EnrollS: o.enroll.Seconds(), ClientCPUs: runtime.NumCPU()}
	if kind == "verify" {
		rep.ProbeS = o.probe.Seconds()
	}
	stamp := time.Now().UTC().Format("150405")
	skip := 0
	for run := 1; run <= o.runs; run++ {
		prefix := fmt.Sprintf("bench-%s-%s-r%d", kind, stamp, run)
		perUser := kind == "enroll"
		want := o.warmup + o.n
		if !perUser {
			// An enrollment that falls short of the required speech takes
			// its next sample from the user's probes: keep a margin.
			want += want/4 + 4
		}
		users, next, err := benchUsers(ctx, o.audioDir, prefix, skip, want, perUser, o)
		if err != nil {
			return nil, err
		}
		skip = next
		jobs := usersAsJobs(ctx, c, users)
		if kind != "enroll" {
			fmt.Fprintf(stderr, "voxgate bench: run %d: enrolling %d users\n", run, len(users))
			enrolled := drive(ctx, o.c, jobs)
			for _, r := range enrolled {
				if r.err != nil {
					return nil, fmt.Errorf("enroll the benchmark's users: %w", r.err)
				}
			}
			jobs = verifyJobs(ctx, c, users)
			if len(jobs) < o.warmup+o.n {
				return nil, fmt.Errorf("only %d unique probes left after enrollment, %d needed: use fewer requests or a longer-recording --audio folder", len(jobs), o.warmup+o.n)
			}
		}
		drive(ctx, o.c, jobs[:o.warmup])
		fmt.Fprintf(stderr, "voxgate bench: run %d: %d %s requests at concurrency %d\n", run, o.n, kind, o.c)
		cpu0, cpuOK := t.cpu()
		t0 := time.Now()
		results := drive(ctx, o.c, jobs[o.warmup:o.warmup+o.n])
		wall := time.Since(t0)
		cpu1, _ := t.cpu()
		sum := summarise(results, wall)
		if cpuOK {
			sum.CPUPerRequestS = round3((cpu1 - cpu0).Seconds() / float64(len(results)))
		}
		rep.Runs = append(rep.Runs, sum)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.Median = medianSum(rep.Runs)
	rep.PeakRSSBytes = t.peakRSS()
	return rep, nil
}

func usersAsJobs(ctx context.Context, c *benchClient, users []*benchUser) []func() benchResult {
	jobs := make([]func() benchResult, len(users))
	for i, u := range users {
		jobs[i] = func() benchResult { return c.enrollUser(ctx, u) }
	}
	return jobs
}

// verifyJobs interleaves the users' probes (first probe of every user,
// then the second...), so that concurrent requests rarely share a profile.
func verifyJobs(ctx context.Context, c *benchClient, users []*benchUser) []func() benchResult {
	var jobs []func() benchResult
	for k := 0; ; k++ {
		added := false
		for _, u := range users {
			if k < len(u.probes) {
				id, probe := u.id, u.probes[k]
				jobs = append(jobs, func() benchResult {
					var ans struct {
						Decision string `json:"decision"`
					}
					r := c.upload(ctx, "/v1/voice/verify", id, probe, &ans)
					r.decision = ans.Decision
					return r
				})
				added = true
			}
		}
		if !added {
			return jobs
		}
	}
}

// drive runs jobs on conc workers and returns their results in job order.
func drive(ctx context.Context, conc int, jobs []func() benchResult) []benchResult {
	out := make([]benchResult, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = jobs[i]()
			}
		}()
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func summarise(results []benchResult, wall time.Duration) benchSum {
	s := benchSum{Statuses: map[string]int{}, Decisions: map[string]int{}, WallS: round3(wall.Seconds())}
	var lat []float64
	stages := map[string]float64{}
	timed := 0
	for _, r := range results {
		s.Statuses[fmt.Sprint(r.status)]++
		if r.err != nil {
			s.Failed++
			if s.FirstError == "" {
				s.FirstError = r.err.Error()
			}
		} else {
			s.OK++
		}
		if r.decision != "" {
			s.Decisions[r.decision]++
		}
		lat = append(lat, float64(r.latency.Microseconds())/1000)
		if len(r.stages) > 0 {
			timed++
			for k, v := range r.stages {
				stages[k] += v
			}
		}
	}
	if len(s.Decisions) == 0 {
		s.Decisions = nil
	}
	slices.Sort(lat)
	s.P50ms, s.P90ms, s.P99ms = round1(percentile(lat, 0.50)), round1(percentile(lat, 0.90)), round1(percentile(lat, 0.99))
	var total float64
	for _, v := range lat {
		total += v
	}
	if len(lat) > 0 {
		s.MeanMs = round1(total / float64(len(lat)))
		s.Throughput = round2(float64(len(results)) / wall.Seconds())
	}
	if timed > 0 {
		s.StagesMs, s.StageShare = map[string]float64{}, map[string]float64{}
		serverTotal := stages["total"]
		other := serverTotal
		for k, v := range stages {
			if k == "total" {
				continue
			}
			s.StagesMs[k] = round2(v / float64(timed))
			other -= v
		}
		s.StagesMs["total"] = round2(serverTotal / float64(timed))
		s.StagesMs["other"] = round2(max(0, other) / float64(timed))
		if serverTotal > 0 {
			for k, v := range s.StagesMs {
				if k != "total" {
					s.StageShare[k] = round3(v * float64(timed) / serverTotal)
				}
			}
		}
	}
	return s
}

// percentile returns the p-quantile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

// medianSum is each figure's median over the runs (stage means included).
func medianSum(runs []benchSum) benchSum {
	med := func(f func(benchSum) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m := benchSum{
		WallS:          med(func(r benchSum) float64 { return r.WallS }),
		Throughput:     med(func(r benchSum) float64 { return r.Throughput }),
		P50ms:          med(func(r benchSum) float64 { return r.P50ms }),
		P90ms:          med(func(r benchSum) float64 { return r.P90ms }),
		P99ms:          med(func(r benchSum) float64 { return r.P99ms }),
		MeanMs:         med(func(r benchSum) float64 { return r.MeanMs }),
		CPUPerRequestS: med(func(r benchSum) float64 { return r.CPUPerRequestS }),
	}
	for _, r := range runs {
		m.OK += r.OK
		m.Failed += r.Failed
	}
	if len(runs) > 0 && runs[0].StagesMs != nil {
		m.StagesMs, m.StageShare = map[string]float64{}, map[string]float64{}
		for k := range runs[0].StagesMs {
			m.StagesMs[k] = med(func(r benchSum) float64 { return r.StagesMs[k] })
			if k != "total" {
				m.StageShare[k] = med(func(r benchSum) float64 { return r.StageShare[k] })
			}
		}
	}
	return m
}

func (rep *benchReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	what := fmt.Sprintf("%s, %.0f s probes", rep.Kind, rep.ProbeS)
	if rep.Kind == "enroll" {
		what = fmt.Sprintf("enroll, %.0f s first samples", rep.EnrollS)
	}
	against := rep.URL
	if rep.Nodes > 1 {
		against = fmt.Sprintf("%d nodes (%s)", rep.Nodes, rep.URL)
	}
	fmt.Fprintf(w, "voxgate bench %s against %s: %d requests x %d run(s), concurrency %d\n", what, against, rep.Requests, len(rep.Runs), rep.Concurrency)
	fmt.Fprintf(w, "%-6s %8s %8s %8s %8s %8s %10s %s\n", "run", "req/s", "p50 ms", "p90 ms", "p99 ms", "mean ms", "cpu s/req", "ok/failed")
	row := func(name string, s benchSum) {
		fmt.Fprintf(w, "%-6s %8.2f %8.1f %8.1f %8.1f %8.1f %10.3f %d/%d\n", name, s.Throughput, s.P50ms, s.P90ms, s.P99ms, s.MeanMs, s.CPUPerRequestS, s.OK, s.Failed)
	}
	for i, r := range rep.Runs {
		row(fmt.Sprint(i+1), r)
	}
	if len(rep.Runs) > 1 {
		row("median", rep.Median)
	}
	if m := rep.Median.StagesMs; len(m) > 0 {
		names := make([]string, 0, len(m))
		for k := range m {
			if k != "total" {
				names = append(names, k)
			}
		}
		sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = fmt.Sprintf("%s %.1f ms (%.0f%%)", k, m[k], 100*rep.Median.StageShare[k])
		}
		fmt.Fprintf(w, "server time per request %.1f ms: %s\n", m["total"], strings.Join(parts, ", "))
	}
	for i, r := range rep.Runs {
		if len(r.Decisions) > 0 || r.Failed > 0 {
			fmt.Fprintf(w, "run %d: statuses %v decisions %v", i+1, r.Statuses, r.Decisions)
			if r.FirstError != "" {
				fmt.Fprintf(w, "; first error: %s", r.FirstError)
			}
			fmt.Fprintln(w)
		}
	}
	if rep.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server peak RSS %.0f MiB\n", float64(rep.PeakRSSBytes)/(1<<20))
	}
	return nil
}

func parseServerTiming(v string) map[string]float64 {
	if v == "" {
		return nil
	}
	return timing.ParseHeader(v)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round2(x float64) float64 { return math.Round(x*100) / 100 }
