package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"voxgate/internal/shared"
)

// benchServer is what a benchmark drives: the servers it started (and
// stops) or those given by --url, requests spread round-robin over them.
type benchServer struct {
	urls []string
	key  string
	// pids are the servers' processes, for CPU accounting (none: unknown).
	pids []int
	cmds []*exec.Cmd
	data string
}

// benchTarget returns the --url servers, or starts --nodes of this
// binary's own `serve` on free loopback ports, sharing one store (--store,
// else SQLite in a fresh data folder) and the data folder's secrets, rate
// limits off (the benchmark measures capacity, not the limiter) and
// Server-Timing on.
func benchTarget(ctx context.Context, o benchOptions, stderr io.Writer) (*benchServer, error) {
	if o.url != "" {
		t := &benchServer{key: o.key}
		for _, u := range splitList(o.url) {
			t.urls = append(t.urls, strings.TrimRight(u, "/"))
		}
		if o.pid != 0 {
			t.pids = []int{o.pid}
		}
		return t, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp("", "voxgate-bench-")
	if err != nil {
		return nil, err
	}
	t := &benchServer{data: data}
	// Every node of a shared store needs the same secrets: made once here.
	if out, err := exec.CommandContext(ctx, self, "secrets", "init", "--data", data).CombinedOutput(); err != nil {
		t.close()
		return nil, fmt.Errorf("make the servers' secrets: %v: %s", err, out)
	}
	storeArgs := []string{}
	if o.store != "" {
		storeArgs = []string{"--store", o.store}
	}
	out, err := exec.CommandContext(ctx, self, append([]string{"keys", "create", "--data", data, "--tenant", "bench", "--json"}, storeArgs...)...).Output()
	if err != nil {
		t.close()
		return nil, fmt.Errorf("create the benchmark's API key: %w", err)
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &k); err != nil || k.Key == "" {
		t.close()
		return nil, fmt.Errorf("create the benchmark's API key: unexpected output %q", out)
	}
	t.key = k.Key
	models, err := resolveModels(o.models)
	if err != nil {
		t.close()
		return nil, err
	}
	if models == "" {
		if sh := shared.Find(); sh != "" {
			models = filepath.Join(sh, "models")
		}
	}
	logFile, err := os.Create(filepath.Join(data, "server.log"))
	if err != nil {
		t.close()
		return nil, err
	}
	defer logFile.Close()
	for range o.nodes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.close()
			return nil, err
		}
		args := append([]string{"serve", "--addr", addr, "--data", data, "--server-timing", "--rate-minute", "0", "--rate-hour", "0"}, storeArgs...)
		if models != "" {
			args = append(args, "--models", models)
		}
		cmd := exec.Command(self, args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.close()
			return nil, fmt.Errorf("start the server: %w", err)
		}
		t.cmds = append(t.cmds, cmd)
		t.pids, t.urls = append(t.pids, cmd.Process.Pid), append(t.urls, "http://"+addr)
		fmt.Fprintf(stderr, "voxgate bench: started a server on %s (pid %d)\n", addr, cmd.Process.Pid)
	}
	for _, u := range t.urls {
		if err := waitReady(ctx, u, 2*time.Minute); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

// cpu returns the servers' CPU time so far, summed, or false when the
// processes are not known.
func (t *benchServer) cpu() (time.Duration, bool) {
	if len(t.pids) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, pid := range t.pids {
		d, err := pidCPU(pid)
		if err != nil {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// peakRSS returns the servers' peak resident memory in bytes (VmHWM),
// summed over them, or 0.
func (t *benchServer) peakRSS() int64 {
	var sum int64
	for _, pid := range t.pids {
		rss := pidPeakRSS(pid)
		if rss == 0 {
			return 0
		}
		sum += rss
	}
	return sum
}

// logTail returns the end of a started server's log, for error reports.
func (t *benchServer) logTail() string {
	if t.data == "" {
		return ""
	}
	b, _ := os.ReadFile(filepath.Join(t.data, "server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// close stops the started servers and removes their data folder.
func (t *benchServer) close() {
	for _, cmd := range t.cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range t.cmds {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	if t.data != "" {
		_ = os.RemoveAll(t.data)
	}
}

// freeLoopbackAddr returns a loopback address nothing listens on now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200 (the models are loaded).
func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server at %s was not ready after %s", url, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
