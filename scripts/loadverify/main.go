// Command loadverify measures verification throughput and latency of 1
// and of several voxgate nodes sharing one PostgreSQL database on this
// machine, and the database's share of the latency. It is the source of
// the figures in docs/DEPLOYMENT.md:
//
//	scripts/with-postgres.sh go run ./scripts/loadverify [-nodes 1,3] [-actors 12] [-concurrency 6] [-duration 60s]
//
// For each node count it makes a fresh database, starts the nodes (the
// built binary, the shared models, anti-spoofing included), enrolls RAVDESS
// actors across them, restarts them (so that the database's counters hold
// only the load), then posts genuine takes, each once (a take posted twice
// is a replay), to /v1/voice/verify round-robin over the nodes from
// -concurrency clients, until -duration ends or the takes run out.
// Latency is measured at the client; the database's share is the time its
// backends spent executing statements (pg_stat_database.active_time) per
// request, over the mean request latency. Needs VOXGATE_TEST_POSTGRES (a
// role that may create databases) and ../shared.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate/internal/shared"
)

func main() {
	nodesFlag := flag.String("nodes", "1,3", "comma-separated node counts to measure")
	actors := flag.Int("actors", 12, "RAVDESS actors to enroll (10 probes each)")
	concurrency := flag.Int("concurrency", 6, "clients posting at once")
	duration := flag.Duration("duration", 60*time.Second, "how long to load each configuration (at most: the probes may run out first)")
	flag.Parse()
	if err := run(*nodesFlag, *actors, *concurrency, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "loadverify:", err)
		os.Exit(1)
	}
}

func run(nodesFlag string, actors, concurrency int, duration time.Duration) error {
	base := os.Getenv("VOXGATE_TEST_POSTGRES")
	if base == "" {
		return errors.New("VOXGATE_TEST_POSTGRES is not set: run under scripts/with-postgres.sh")
	}
	sharedDir := shared.Find()
	if sharedDir == "" {
		return errors.New("../shared not found")
	}
	tmp, err := os.MkdirTemp("", "loadverify")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "voxgate")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/voxgate").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	fmt.Printf("%-5s %8s %8s %9s %8s %8s %8s %10s %8s  %s\n", "nodes", "requests", "seconds", "req/s", "p50 ms", "p99 ms", "mean ms", "db ms/req", "db share", "decisions")
	for _, f := range strings.Split(nodesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-nodes: %q", f)
		}
		if err := measure(base, sharedDir, bin, tmp, n, actors, concurrency, duration); err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
	}
	return nil
}

type probe struct {
	user string
	path string
}

func ravdessPath(sharedDir string, actor, emotion, intensity, statement, rep int) string {
	return filepath.Join(sharedDir, "voice-data/corpora/ravdess", fmt.Sprintf("Actor_%02d", actor),
		fmt.Sprintf("03-01-%02d-%02d-%02d-%02d-%02d.flac", emotion, intensity, statement, rep, actor))
}

func measure(base, sharedDir, bin, tmp string, nodes, actors, concurrency int, duration time.Duration) error {
	ctx := context.Background()
	dbName := fmt.Sprintf("loadverify_%d_%d", nodes, time.Now().UnixNano())
	if err := execSQL(ctx, base, `CREATE DATABASE `+dbName); err != nil {
		return err
	}
	defer execSQL(ctx, base, `DROP DATABASE `+dbName+` WITH (FORCE)`)
	u, _ := url.Parse(base)
	u.Path = "/" + dbName
	store := u.String()

	data := filepath.Join(tmp, dbName)
	if out, err := exec.Command(bin, "secrets", "init", "--data", data).CombinedOutput(); err != nil {
		return fmt.Errorf("secrets init: %v %s", err, out)
	}
	out, err := exec.Command(bin, "keys", "create", "--tenant", "load", "--json", "--store", store).Output()
	if err != nil {
		return fmt.Errorf("keys create: %v", err)
	}
	var created struct{ Key string }
	json.Unmarshal(out, &created)
	key := created.Key

	start := func() ([]*exec.Cmd, []string, error) {
		var cmds []*exec.Cmd
		var bases []string
		for range nodes {
			cmd, addr, err := startNode(bin, data, store, filepath.Join(sharedDir, "models"))
			if err != nil {
				stopAll(cmds)
				return nil, nil, err
			}
			cmds = append(cmds, cmd)
			bases = append(bases, "http://"+addr)
		}
		return cmds, bases, nil
	}
	cmds, bases, err := start()
	if err != nil {
		return err
	}

	// Enroll: neutral takes, calm at strong intensity, two happy takes.
	enroll := [][4]int{{1, 1, 1, 1}, {1, 1, 1, 2}, {1, 1, 2, 1}, {1, 1, 2, 2}, {2, 2, 1, 1}, {2, 2, 1, 2}, {2, 2, 2, 1}, {2, 2, 2, 2}, {3, 1, 1, 1}, {3, 1, 2, 1}}
	probesOf := [][4]int{{2, 1, 1, 1}, {2, 1, 1, 2}, {2, 1, 2, 1}, {2, 1, 2, 2}, {3, 1, 1, 2}, {3, 1, 2, 2}, {3, 2, 1, 1}, {3, 2, 1, 2}, {3, 2, 2, 1}, {3, 2, 2, 2}}
	var probes []probe
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for a := 1; a <= actors && a <= 24; a++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := fmt.Sprintf("actor%d", a)
			b := bases[a%len(bases)]
			post(b+"/create-profile", key, nil, []byte(`{"user_id":"`+user+`"}`))
			enrolled := false
			for _, e := range enroll {
				st, body := postFile(b+"/enroll", key, user, ravdessPath(sharedDir, a, e[0], e[1], e[2], e[3]))
				if st == 200 && body["enrolled"] == true {
					enrolled = true
				}
			}
			if !enrolled {
				fmt.Fprintf(os.Stderr, "loadverify: %s did not reach the required speech; left out\n", user)
				return
			}
			mu.Lock()
			for _, p := range probesOf {
				probes = append(probes, probe{user, ravdessPath(sharedDir, a, p[0], p[1], p[2], p[3])})
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Interleave the users so that no one user's attempts queue behind
	// each other.
	sort.SliceStable(probes, func(i, j int) bool {
		return probes[i].path[len(probes[i].path)-14:] < probes[j].path[len(probes[j].path)-14:]
	})

	// Restart, so that the database's counters hold the load alone (a
	// backend reports its active time when it exits).
	stopAll(cmds)
	before, err := activeTime(ctx, base, dbName)
	if err != nil {
		return err
	}
	cmds, bases, err = start()
	if err != nil {
		return err
	}

	work := make(chan probe, len(probes))
	for _, p := range probes {
		work <- p
	}
	close(work)
	var lat []time.Duration
	decisions := map[string]int{}
	deadline := time.Now().Add(duration)
	t0 := time.Now()
	for c := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := c
			for p := range work {
				if time.Now().After(deadline) {
					return
				}
				s := time.Now()
				st, body := postFile(bases[i%len(bases)]+"/v1/voice/verify", key, p.user, p.path)
				d := time.Since(s)
				i++
				mu.Lock()
				if st == 200 {
					lat = append(lat, d)
					decisions[fmt.Sprint(body["decision"])]++
				} else {
					decisions[fmt.Sprintf("http %d %v", st, body["error"])]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	stopAll(cmds)
	after, err := activeTime(ctx, base, dbName)
	if err != nil {
		return err
	}
	if len(lat) == 0 {
		return fmt.Errorf("no successful request: %v", decisions)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	mean := sum / time.Duration(len(lat))
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	dbPerReq := (after - before) / float64(len(lat))
	fmt.Printf("%-5d %8d %8.1f %9.2f %8.0f %8.0f %8.0f %10.1f %7.1f%%  %v\n", nodes, len(lat), elapsed.Seconds(),
		float64(len(lat))/elapsed.Seconds(), ms(q(0.5)), ms(q(0.99)), ms(mean), dbPerReq, 100*dbPerReq/ms(mean), decisions)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startNode runs `voxgate serve` on a free port and returns it once it
// listens.
func startNode(bin, data, store, models string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--models", models, "--rate-minute", "0", "--rate-hour", "0")
	cmd.Env = append(os.Environ(), "VOXGATE_STORE="+store)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "voxgate listening" {
				addr <- m["addr"].(string)
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if ok {
			return cmd, a, nil
		}
	case <-time.After(60 * time.Second):
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, "", errors.New("a node did not start")
}

// stopAll stops the nodes with SIGTERM and waits for them.
func stopAll(cmds []*exec.Cmd) {
	for _, c := range cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range cmds {
		c.Wait()
	}
}

func execSQL(ctx context.Context, u, sql string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// activeTime returns the milliseconds the database's backends have spent
// executing statements, once the statistics of exited backends are in.
func activeTime(ctx context.Context, u, db string) (float64, error) {
	time.Sleep(1500 * time.Millisecond)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var v float64
	err = conn.QueryRow(ctx, `SELECT COALESCE(active_time, 0) FROM pg_stat_database WHERE datname = $1`, db).Scan(&v)
	return v, err
}

func post(url, key string, hdr map[string]string, body []byte) (int, map[string]any) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(req)
}

func postFile(url, key, user, path string) (int, map[string]any) {
	audio, err := os.ReadFile(path)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("user_id", user)
	fw, _ := mw.CreateFormFile("audio", filepath.Base(path))
	fw.Write(audio)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	return do(req)
}

func do(req *http.Request) (int, map[string]any) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}
