package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"voxgate/internal/shared"
)

// benchOptions configure `voxgate bench verify|enroll`.
type benchOptions struct {
	url, key   string
	pid        int
	nodes      int
	store      string
	models     string
	audioDir   string
	n, c, runs int
	warmup     int
	probe      time.Duration
	enroll     time.Duration
	asJSON     bool
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "identify" {
		return runBenchIdentify(ctx, args[1:], stdout, stderr) // bench_identify.go
	}
	if len(args) > 0 && args[0] == "soak" {
		return runSoak(ctx, args[1:], stdout, stderr) // soak.go
	}
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, benchUsage)
		return errHelp
	}
	kind, args, err := subcommand("bench", []string{"verify", "enroll", "identify", "soak"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("bench "+kind, stdout)
	var o benchOptions
	fs.StringVar(&o.url, "url", "", "target running servers at `URL`s, comma-separated, requests spread round-robin (default: start --nodes servers on free loopback ports with a fresh data folder, rate limits off and --server-timing)")
	fs.StringVar(&o.key, "key", envOr("VOXGATE_KEY", ""), "admin API `KEY` for --url (env VOXGATE_KEY)")
	fs.IntVar(&o.pid, "pid", 0, "the --url server's process `ID`, for CPU seconds per request (same machine only)")
	fs.IntVar(&o.nodes, "nodes", 1, "servers to start, sharing --store, requests spread round-robin over them")
	fs.StringVar(&o.store, "store", "", "the started servers' store `URL` (sqlite:PATH or postgres://...; default: SQLite in the fresh data folder, shared by the nodes)")
	fs.StringVar(&o.models, "models", envOr("VOXGATE_MODELS", ""), "models `DIR` of the started server (default ./models, then ../shared/models)")
	fs.StringVar(&o.audioDir, "audio", defaultBenchAudio(), "folder of recordings, one speaker per file, cut into an enrollment and unique probes (default: the Speech Accent Archive part of ../shared's train-pool, ~25 s per speaker)")
	fs.IntVar(&o.n, "n", 200, "measured requests per run")
	fs.IntVar(&o.c, "c", 8, "concurrent clients")
	fs.IntVar(&o.runs, "runs", 1, "measured runs, each on fresh users; the summary is their median")
	fs.IntVar(&o.warmup, "warmup", 8, "requests before each run that are not counted")
	fs.DurationVar(&o.probe, "probe", 4*time.Second, "length of each verification probe")
	fs.DurationVar(&o.enroll, "enroll", 14*time.Second, "audio in each user's first enrollment sample (more samples follow until the profile is enrolled)")
	fs.BoolVar(&o.asJSON, "json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if o.n < 1 || o.c < 1 || o.runs < 1 || o.nodes < 1 || o.warmup < 0 || o.probe < time.Second || o.enroll < time.Second {
		return usagef("bench "+kind, "-n, -c, --runs and --nodes must be positive, --probe and --enroll at least 1s")
	}
	if o.url != "" && (o.nodes != 1 || o.store != "") {
		return usagef("bench "+kind, "--nodes and --store are for the servers bench starts, not with --url")
	}
	if o.url != "" && o.key == "" {
		return usagef("bench "+kind, "--url needs --key (an admin key of the target server)")
	}
	target, err := benchTarget(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer target.close()
	rep, err := benchRun(ctx, kind, o, target, stderr)
	if err != nil {
		if tail := target.logTail(); tail != "" {
			fmt.Fprintf(stderr, "voxgate bench: the server's log ends with:\n%s\n", tail)
		}
		return err
	}
	return rep.print(stdout, o.asJSON)
}

// defaultBenchAudio is the Speech Accent Archive part of the shared
// train-pool: 595 speakers reading one ~25 s paragraph, so that each user
// gets a 14 s enrollment and two unique 4 s probes.
func defaultBenchAudio() string {
	dir := shared.Find()
	if dir == "" {
		dir = filepath.Join("..", "shared")
	}
	return filepath.Join(dir, "voice-data", "corpora", "train-pool", "speech-accent-archive")
}

const benchUsage = `usage: voxgate bench verify|enroll [flags]
       voxgate bench identify [--gallery N] [--probes P] [--json]
       voxgate bench soak [flags]   (mixed load with random SIGKILLs; see docs/RELIABILITY.md)

Drives a voxgate server with real recordings and prints throughput, latency
percentiles, CPU seconds per request and where the server's time goes (its
Server-Timing stages). Without --url it starts its own server (this binary)
on a free loopback port; run 'voxgate bench verify -h' for the flags.
'bench identify' times the identification index on a synthetic gallery.`

// pidCPU returns the CPU time (user + system) the process has used so far,
// from /proc (Linux only; an error elsewhere).
func pidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: parse after its ')'.
	i := len(b) - 1
	for i > 0 && b[i] != ')' {
		i--
	}
	var state byte
	var ppid, pgrp, session, tty, tpgid int
	var flags, minflt, cminflt, majflt, cmajflt, utime, stime uint64
	if _, err := fmt.Sscanf(string(b[i+1:]), " %c %d %d %d %d %d %d %d %d %d %d %d %d",
		&state, &ppid, &pgrp, &session, &tty, &tpgid, &flags, &minflt, &cminflt, &majflt, &cmajflt, &utime, &stime); err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	const ticks = 100 // USER_HZ on every Linux architecture Go supports
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// pidPeakRSS returns the process's peak resident memory (VmHWM) in bytes
// from /proc, or 0 when it cannot be read.
func pidPeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
