package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"voxgate/audio"
)

// benchUser is one synthetic user: a speaker's recording cut into an
// enrollment sample and probes that do not overlap it or each other, so
// that no request is a replay and (being genuine) few count as failures:
// neither replay detection nor attempt limits short-circuit the work.
type benchUser struct {
	id     string
	enroll []byte   // WAV, 16 kHz mono
	probes [][]byte // WAV, 16 kHz mono, unique
}

// benchUsers decodes the folder's recordings (sorted by name) and cuts each
// into a user, until the users hold at least want probes (verify) or want
// users exist (enroll). prefix keeps each run's user ids apart.
func benchUsers(ctx context.Context, dir, prefix string, skip, want int, perUser bool, o benchOptions) ([]*benchUser, int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("recordings folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	dec := &audio.Decoder{}
	enrollN, probeN := int(o.enroll.Seconds()*audio.Rate), int(o.probe.Seconds()*audio.Rate)
	var users []*benchUser
	probes := 0
	for i := skip; i < len(names); i++ {
		if (perUser && len(users) >= want) || (!perUser && probes >= want) {
			return users, i, nil
		}
		data, err := os.ReadFile(filepath.Join(dir, names[i]))
		if err != nil {
			return nil, 0, err
		}
		clip, err := dec.Decode(ctx, data)
		if err != nil {
			continue // not audio
		}
		x := clip.Samples
		if len(x) < enrollN+probeN && !perUser || len(x) < enrollN {
			continue
		}
		u := &benchUser{id: fmt.Sprintf("%s-%04d", prefix, i), enroll: audio.EncodeWAV(x[:enrollN], audio.Rate)}
		for at := enrollN; at+probeN <= len(x); at += probeN {
			u.probes = append(u.probes, audio.EncodeWAV(x[at:at+probeN], audio.Rate))
		}
		users = append(users, u)
		probes += len(u.probes)
	}
	if perUser && len(users) >= want || !perUser && probes >= want {
		return users, len(names), nil
	}
	return nil, 0, fmt.Errorf("%s holds too little audio: %d users with %d probes of %s after %s of enrollment each; the benchmark needs %d %s (use fewer requests or runs, or another --audio folder)",
		dir, len(users), probes, o.probe, o.enroll, want, map[bool]string{true: "users", false: "probes"}[perUser])
}

// benchClient sends the benchmark's requests, round-robin over the
// servers' URLs.
type benchClient struct {
	urls []string
	key  string
	http *http.Client
	n    atomic.Uint64
}

// url returns the server the next request goes to.
func (c *benchClient) url() string {
	return c.urls[(c.n.Add(1)-1)%uint64(len(c.urls))]
}

// result is one request's outcome as the client saw it.
type benchResult struct {
	status   int
	decision string
	latency  time.Duration
	stages   map[string]float64 // Server-Timing, ms
	err      error
}

func (c *benchClient) createProfile(ctx context.Context, user string) error {
	body, _ := json.Marshal(map[string]string{"user_id": user})
	req, _ := http.NewRequestWithContext(ctx, "POST", c.url()+"/create-profile", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("create-profile %s: %s: %s", user, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// upload posts one recording to path (/enroll or /v1/voice/verify).
func (c *benchClient) upload(ctx context.Context, path, user string, wav []byte, out any) benchResult {
	form, contentType := audioForm(map[string]string{"user_id": user}, "probe.wav", wav)
	req, _ := http.NewRequestWithContext(ctx, "POST", c.url()+path, bytes.NewReader(form))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Api-Key", c.key)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return benchResult{err: err, latency: time.Since(start)}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := benchResult{status: resp.StatusCode, latency: time.Since(start), err: err, stages: parseServerTiming(resp.Header.Get("Server-Timing"))}
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			r.err = fmt.Errorf("%s answer: %w", path, err)
		}
	}
	if resp.StatusCode != http.StatusOK && r.err == nil {
		r.err = fmt.Errorf("%s %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return r
}

// enrollUser creates the profile and enrolls it, taking further samples from
// its probes until the server counts it enrolled.
func (c *benchClient) enrollUser(ctx context.Context, u *benchUser) benchResult {
	if err := c.createProfile(ctx, u.id); err != nil {
		return benchResult{err: err}
	}
	var total benchResult
	sample := u.enroll
	for {
		var ans struct {
			Enrolled bool `json:"enrolled"`
		}
		r := c.upload(ctx, "/enroll", u.id, sample, &ans)
		total.latency += r.latency
		total.status, total.err, total.stages = r.status, r.err, mergeStages(total.stages, r.stages)
		if r.err != nil || ans.Enrolled {
			return total
		}
		if len(u.probes) == 0 {
			total.err = fmt.Errorf("user %s: not enrolled after all its audio", u.id)
			return total
		}
		sample, u.probes = u.probes[0], u.probes[1:]
	}
}

func mergeStages(a, b map[string]float64) map[string]float64 {
	if a == nil {
		a = map[string]float64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}
