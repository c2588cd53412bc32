package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// soakConfig is `voxgate bench soak`'s configuration.
type soakConfig struct {
	duration, killEvery, calibrate time.Duration
	rate                           float64
	tenants, users                 int
	voices, models, data           string
	json                           bool
}

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench soak", stdout)
	var cfg soakConfig
	fs.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long the load runs")
	fs.Float64Var(&cfg.rate, "rate", 0, "requests per second (0: twice the capacity measured first)")
	fs.DurationVar(&cfg.calibrate, "calibrate", 20*time.Second, "how long to measure capacity when --rate is 0")
	fs.DurationVar(&cfg.killEvery, "kill-every", 45*time.Second, "mean time between SIGKILLs of the server (0: never)")
	fs.IntVar(&cfg.tenants, "tenants", 3, "tenants sending load")
	fs.IntVar(&cfg.users, "users", 4, "profiles enrolled per tenant before the load")
	fs.StringVar(&cfg.voices, "voices", "", "folder of speaker folders of recordings (default ../shared/voice-data/corpora/librispeech/test-other)")
	fs.StringVar(&cfg.models, "models", "", "models folder for the server (default: as serve finds it)")
	fs.StringVar(&cfg.data, "data", "", "data folder for the server (default: a new temporary folder)")
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if cfg.voices == "" {
		cfg.voices = filepath.Join("..", "shared", "voice-data", "corpora", "librispeech", "test-other")
	}
	rep, err := soak(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(stdout)
	}
	if !rep.Passed {
		return fmt.Errorf("soak failed: %d 5xx other than 503 with Retry-After, %d lost webhooks, %d broken profiles", rep.Other5xx, rep.WebhooksLost, rep.BrokenProfiles)
	}
	return nil
}

// soakReport is what a soak run measured.
type soakReport struct {
	Duration        string         `json:"duration"`
	CapacityPerSec  float64        `json:"capacity_per_sec,omitempty"`
	RatePerSec      float64        `json:"rate_per_sec"`
	Tenants         int            `json:"tenants"`
	Requests        int64          `json:"requests"`
	ByOp            map[string]int `json:"requests_by_op_and_status"`
	Shed503         int64          `json:"shed_503_with_retry_after"`
	Other5xx        int64          `json:"other_5xx"`
	TransportErrors int64          `json:"transport_errors"`
	ClientSkipped   int64          `json:"client_skipped"`
	Kills           int64          `json:"kills"`
	WebhooksQueued  int            `json:"webhooks_expected"`
	WebhooksLost    int            `json:"webhooks_lost"`
	Profiles        int            `json:"profiles"`
	BrokenProfiles  int            `json:"broken_profiles"`
	Broken          []string       `json:"broken,omitempty"`
	PeakRSSMiB      int64          `json:"peak_rss_mib"`
	Passed          bool           `json:"passed"`
}

func (r *soakReport) print(w io.Writer) {
	fmt.Fprintf(w, "soak: %s at %.2f req/s", r.Duration, r.RatePerSec)
	if r.CapacityPerSec > 0 {
		fmt.Fprintf(w, " (2x the measured capacity of %.2f req/s)", r.CapacityPerSec)
	}
	fmt.Fprintf(w, ", %d tenants, %d SIGKILLs\n", r.Tenants, r.Kills)
	fmt.Fprintf(w, "requests: %d (transport errors while the server was down: %d; not sent, client saturated: %d)\n", r.Requests, r.TransportErrors, r.ClientSkipped)
	keys := make([]string, 0, len(r.ByOp))
	for k := range r.ByOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-28s %d\n", k, r.ByOp[k])
	}
	fmt.Fprintf(w, "5xx other than 503 with Retry-After: %d (503 with Retry-After: %d)\n", r.Other5xx, r.Shed503)
	fmt.Fprintf(w, "webhooks: %d expected, %d lost\n", r.WebhooksQueued, r.WebhooksLost)
	fmt.Fprintf(w, "profiles: %d, broken: %d\n", r.Profiles, r.BrokenProfiles)
	for _, b := range r.Broken {
		fmt.Fprintf(w, "  %s\n", b)
	}
	fmt.Fprintf(w, "peak RSS: %d MiB\n", r.PeakRSSMiB)
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintln(w, verdict)
}

// soakServer is the server under test: one `voxgate serve` process at a
// time on a fixed loopback port, killed and restarted over the same data.
type soakServer struct {
	bin, data, addr string
	args            []string
	logf            *os.File

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}

	peakRSS atomic.Int64 // bytes, the highest VmHWM of any process
	kills   atomic.Int64
}

func (s *soakServer) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, append([]string{"serve", "--addr", s.addr, "--data", s.data}, s.args...)...)
	cmd.Stdout, cmd.Stderr = s.logf, s.logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("server exited at start (log: %s)", s.logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("server did not answer /healthz in 2 minutes (log: %s)", s.logf.Name())
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *soakServer) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	s.sampleRSS()
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	s.kills.Add(1)
}

// stop ends the server gracefully.
func (s *soakServer) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	s.sampleRSS()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-exited
	}
}

// sampleRSS folds the current process's peak RSS into the run's.
func (s *soakServer) sampleRSS() {
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	rss := pidPeakRSS(pid)
	for {
		old := s.peakRSS.Load()
		if rss <= old || s.peakRSS.CompareAndSwap(old, rss) {
			break
		}
	}
}

// soakSpeaker is one voice: its recordings, the first few for enrollment.
type soakSpeaker struct{ files [][]byte }

func loadSpeakers(dir string) ([]soakSpeaker, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("voices: %w", err)
	}
	var out []soakSpeaker
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.*"))
		sort.Strings(files)
		var sp soakSpeaker
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			sp.files = append(sp.files, b)
		}
		if len(sp.files) >= 5 {
			out = append(out, sp)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("voices: no speaker folder with 5 recordings or more in %s", dir)
	}
	return out, nil
}

func soak(ctx context.Context, cfg soakConfig, logw io.Writer) (*soakReport, error) {
	speakers, err := loadSpeakers(cfg.voices)
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if cfg.data == "" {
		if cfg.data, err = os.MkdirTemp("", "voxgate-soak-"); err != nil {
			return nil, err
		}
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(cfg.data, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	srv := &soakServer{bin: bin, data: cfg.data, addr: addr, logf: logf,
		args: []string{"--webhook-allow-private", "--job-lease", "5s", "--rate-minute", "0", "--rate-hour", "0"}}
	if cfg.models != "" {
		srv.args = append(srv.args, "--models", cfg.models)
	}
	l := &soakLoad{base: "http://" + addr, speakers: speakers, stats: map[string]int{}, expected: map[string]bool{}, delivered: map[string]bool{}}
	if err := l.keys(bin, cfg); err != nil {
		return nil, err
	}
	hooks, err := l.receiver()
	if err != nil {
		return nil, err
	}
	defer hooks.Close()
	if err := srv.start(ctx); err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(logw, "soak: server at %s, data %s; enrolling %d profiles in %d tenants\n", addr, cfg.data, cfg.tenants*cfg.users, cfg.tenants)
	if err := l.setup(ctx, cfg); err != nil {
		return nil, err
	}
	rep := &soakReport{Tenants: cfg.tenants, Duration: cfg.duration.String()}
	rate := cfg.rate
	if rate <= 0 {
		rep.CapacityPerSec = l.capacity(ctx, cfg.calibrate)
		rate = 2 * rep.CapacityPerSec
		fmt.Fprintf(logw, "soak: measured capacity %.2f verifications/s; loading at %.2f req/s\n", rep.CapacityPerSec, rate)
		l.resetStats()
	}
	rep.RatePerSec = rate

	// The load, and the killer beside it.
	lctx, stop := context.WithTimeout(ctx, cfg.duration)
	defer stop()
	var wg sync.WaitGroup
	if cfg.killEvery > 0 {
		wg.Go(func() {
			for {
				wait := time.Duration(float64(cfg.killEvery) * (0.5 + rand.Float64()))
				select {
				case <-lctx.Done():
					return
				case <-time.After(wait):
				}
				srv.kill()
				fmt.Fprintf(logw, "soak: SIGKILL %d; restarting\n", srv.kills.Load())
				if err := srv.start(ctx); err != nil {
					fmt.Fprintf(logw, "soak: restart failed: %v\n", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				srv.sampleRSS()
			}
		}
	})
	l.generate(lctx, rate)
	wg.Wait()
	l.inflight.Wait()

	// Every accepted async job must reach its webhook.
	drain := time.Now().Add(3 * time.Minute)
	for time.Now().Before(drain) && l.lost() > 0 {
		time.Sleep(time.Second)
	}
	srv.sampleRSS()
	srv.stop()
	rep.Profiles, rep.Broken, err = checkProfiles(filepath.Join(cfg.data, "voxgate.db"))
	if err != nil {
		return nil, err
	}
	rep.BrokenProfiles = len(rep.Broken)
	l.mu.Lock()
	rep.ByOp = l.stats
	rep.WebhooksQueued = len(l.expected)
	l.mu.Unlock()
	rep.WebhooksLost = l.lost()
	rep.Requests, rep.Shed503, rep.Other5xx = l.requests.Load(), l.shed.Load(), l.other5xx.Load()
	rep.TransportErrors, rep.ClientSkipped = l.transport.Load(), l.skipped.Load()
	rep.Kills = srv.kills.Load()
	rep.PeakRSSMiB = srv.peakRSS.Load() >> 20
	rep.Passed = rep.Other5xx == 0 && rep.WebhooksLost == 0 && rep.BrokenProfiles == 0
	return rep, nil
}

// profileInvariants are the queries that find broken profiles: each
// returns the user IDs that break one invariant of a crash-safe store.
var profileInvariants = []struct{ what, query string }{
	{"enrolled without a voiceprint", `SELECT user_id FROM profiles p WHERE enrolled_at IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM voiceprints v WHERE v.tenant_id = p.tenant_id AND v.user_id = p.user_id)`},
	{"sample counter differs from the samples", `SELECT user_id FROM profiles p WHERE samples != (
		SELECT COUNT(*) FROM enrollment_samples s WHERE s.tenant_id = p.tenant_id AND s.user_id = p.user_id)`},
	{"samples without a voiceprint", `SELECT user_id FROM profiles p WHERE samples > 0 AND NOT EXISTS (
		SELECT 1 FROM voiceprints v WHERE v.tenant_id = p.tenant_id AND v.user_id = p.user_id)`},
	{"samples and enrollment fingerprints differ", `SELECT user_id FROM profiles p WHERE samples != (
		SELECT COUNT(*) FROM fingerprints f WHERE f.tenant_id = p.tenant_id AND f.user_id = p.user_id AND f.source = 'enroll')`},
	{"samples and accepted enrollment audit rows differ", `SELECT user_id FROM profiles p WHERE samples != (
		SELECT COUNT(*) FROM attempts a WHERE a.tenant_id = p.tenant_id AND a.user_id = p.user_id AND a.kind = 'enroll' AND a.decision = 'accepted')`},
	// A verification that gathered evidence audits its liveness labels as
	// a list ("labels":[...]); one stopped before (cooldown, unusable
	// audio) stores no fingerprint and audits "labels":null.
	{"verification fingerprints and audit rows differ", `SELECT user_id FROM profiles p WHERE (
		SELECT COUNT(*) FROM fingerprints f WHERE f.tenant_id = p.tenant_id AND f.user_id = p.user_id AND f.source = 'verify') != (
		SELECT COUNT(*) FROM attempts a WHERE a.tenant_id = p.tenant_id AND a.user_id = p.user_id AND a.kind = 'verify'
			AND a.detail LIKE '%"labels":[%')`},
}

// checkProfiles opens the SQLite database a server left and returns how
// many profiles it holds and a line for each broken one.
func checkProfiles(path string) (int, []string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM profiles`).Scan(&n); err != nil {
		return 0, nil, err
	}
	var broken []string
	for _, inv := range profileInvariants {
		rows, err := db.Query(inv.query)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", inv.what, err)
		}
		for rows.Next() {
			var user string
			rows.Scan(&user)
			broken = append(broken, user+": "+inv.what)
		}
		rows.Close()
	}
	return n, broken, nil
}

// maxInflight bounds the load generator's open requests; past it a tick
// is counted as skipped (the client, not the server, is saturated).
const maxInflight = 256
