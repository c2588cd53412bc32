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
	"strconv"
	"strings"
	"syscall"
	"time"

	"voxgate/internal/shared"
)

// benchServer is the server a benchmark drives: one it started (and stops)
// or one given by --url.
type benchServer struct {
	url, key string
	// pid is the server's process, for CPU accounting (0: unknown).
	pid  int
	cmd  *exec.Cmd
	data string
}

// benchTarget returns the --url server, or starts this binary's own
// `serve` on a free loopback port with a fresh data folder, rate limits off
// (the benchmark measures capacity, not the limiter) and Server-Timing on.
func benchTarget(ctx context.Context, o benchOptions, stderr io.Writer) (*benchServer, error) {
	if o.url != "" {
		t := &benchServer{url: strings.TrimRight(o.url, "/"), key: o.key, pid: o.pid}
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
	out, err := exec.CommandContext(ctx, self, "keys", "create", "--data", data, "--tenant", "bench", "--json").Output()
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
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.close()
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data", data, "--server-timing", "--rate-minute", "0", "--rate-hour", "0"}
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
	if models != "" {
		args = append(args, "--models", models)
	}
	t.cmd = exec.Command(self, args...)
	logFile, err := os.Create(filepath.Join(data, "server.log"))
	if err != nil {
		t.close()
		return nil, err
	}
	defer logFile.Close()
	t.cmd.Stdout, t.cmd.Stderr = logFile, logFile
	if err := t.cmd.Start(); err != nil {
		t.close()
		return nil, fmt.Errorf("start the server: %w", err)
	}
	t.pid, t.url = t.cmd.Process.Pid, "http://"+addr
	fmt.Fprintf(stderr, "voxgate bench: started a server on %s (pid %d)\n", addr, t.pid)
	if err := waitReady(ctx, t.url, 2*time.Minute); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// cpu returns the server process's CPU time so far, or false when the
// process is not known.
func (t *benchServer) cpu() (time.Duration, bool) {
	if t.pid == 0 {
		return 0, false
	}
	d, err := pidCPU(t.pid)
	return d, err == nil
}

// rss returns the server's peak resident memory in bytes (VmHWM), or 0.
func (t *benchServer) peakRSS() int64 {
	if t.pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(t.pid) + "/status")
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

// close stops a started server and removes its data folder.
func (t *benchServer) close() {
	if t.cmd != nil && t.cmd.Process != nil {
		_ = t.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = t.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = t.cmd.Process.Kill()
			<-done
		}
	}
	if t.data != "" {
		_ = os.RemoveAll(t.data)
	}
}

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
