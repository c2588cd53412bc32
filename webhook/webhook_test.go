package webhook

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffGrowsExponentiallyWithFullJitterUpToTheCap(t *testing.T) {
	b := Backoff{Base: 10 * time.Second, Cap: time.Hour}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second, time.Hour, time.Hour}
	for i, w := range want {
		if got := b.Bound(i + 1); got != w {
			t.Errorf("Bound(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := b.Bound(1000); got != time.Hour {
		t.Errorf("Bound(1000) = %v: overflow", got)
	}
	if got := (Backoff{}).Bound(1); got != DefaultBase {
		t.Errorf("zero Backoff first bound = %v", got)
	}
	// Full jitter: draws cover [0, bound], not a narrow band near it.
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := b.Delay(3, r.Int64N)
		if d < 0 || d > 40*time.Second {
			t.Fatalf("Delay(3) = %v outside [0, 40s]", d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > 2*time.Second || hi < 38*time.Second {
		t.Fatalf("jitter covers only [%v, %v] of [0, 40s]", lo, hi)
	}
}

func TestBlockedCoversInternalRanges(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true,
		"192.168.1.1": true, "169.254.169.254": true, "100.64.0.1": true, "100.127.255.254": true,
		"0.0.0.0": true, "224.0.0.251": true, "255.255.255.255": true, "198.18.0.1": true,
		"::1": true, "::": true, "fe80::1": true, "fc00::1": true, "fd12:3456::1": true, "ff02::1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "64:ff9b::a00:1": true, "2002:7f00:1::": true,
		"8.8.8.8": false, "1.1.1.1": false, "172.32.0.1": false, "100.128.0.1": false, "93.184.216.34": false,
		"2606:4700:4700::1111": false, "::ffff:8.8.8.8": false, "64:ff9b::808:808": false,
	}
	for s, want := range cases {
		if got := Blocked(netip.MustParseAddr(s)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", s, got, want)
		}
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestCheckURLRefusesInternalTargetsUnlessAllowed(t *testing.T) {
	res := fakeResolver{
		"hooks.example.com": {"93.184.216.34"},
		"rebind.example":    {"93.184.216.34", "10.0.0.5"},
		"meta.example":      {"169.254.169.254"},
	}
	cases := []struct {
		url          string
		allowPrivate bool
		ok           bool
		blocked      bool
	}{
		{"https://hooks.example.com/voxgate", false, true, false},
		{"http://93.184.216.34:8080/x", false, true, false},
		{"http://127.0.0.1:9000/hook", false, false, true},
		{"http://[::1]/hook", false, false, true},
		{"http://10.0.0.1/hook", false, false, true},
		{"http://169.254.169.254/latest/meta-data/", false, false, true},
		{"http://100.64.1.1/", false, false, true},
		{"http://localhost:8080/", false, false, true},
		{"http://rebind.example/", false, false, true},
		{"http://meta.example/", false, false, true},
		{"http://nowhere.example/", false, false, false},
		{"ftp://hooks.example.com/", false, false, false},
		{"file:///etc/passwd", false, false, false},
		{"https://user:pw@hooks.example.com/", false, false, false},
		{"https:///nohost", false, false, false},
		{"hooks.example.com/path", false, false, false},
		{"https://hooks.example.com/#frag", false, false, false},
		{"http://127.0.0.1:9000/hook", true, true, false},
		{"http://localhost:8080/", true, true, false},
		{"ftp://127.0.0.1/", true, false, false},
	}
	for _, c := range cases {
		_, err := CheckURL(context.Background(), c.url, c.allowPrivate, res)
		if (err == nil) != c.ok || errors.Is(err, ErrBlockedAddress) != c.blocked {
			t.Errorf("CheckURL(%q, allowPrivate=%v) = %v; want ok=%v blocked=%v", c.url, c.allowPrivate, err, c.ok, c.blocked)
		}
	}
}

func TestSenderPostsSignedMessage(t *testing.T) {
	secret := NewSecret()
	type got struct {
		h    http.Header
		body []byte
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := &Sender{AllowPrivate: true}
	m := Message{ID: "d-1", Event: "verification.completed", Body: []byte(`{"result":"verified"}`)}
	res, err := s.Send(context.Background(), srv.URL+"/hook", Keys{Scheme: SchemeStandard, Secrets: []string{secret}}, m, time.Now())
	if err != nil || res.Status != 204 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	g := <-ch
	if err := Verify(secret, g.h, g.body, time.Now(), 0); err != nil {
		t.Fatalf("receiver cannot verify: %v", err)
	}
	if g.h.Get(HeaderSignature) != "" {
		t.Fatalf("legacy signature sent with the standard scheme: %v", g.h)
	}
	if g.h.Get(HeaderEvent) != m.Event || g.h.Get(HeaderID) != "d-1" || g.h.Get("Content-Type") != "application/json" || string(g.body) != string(m.Body) {
		t.Fatalf("headers %v body %s", g.h, g.body)
	}
}

func TestSenderRefusesLoopbackAtConnectionTime(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s := &Sender{}
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	// By literal address, and by a name that resolves to loopback only
	// when the connection is made (as a rebinding attacker would arrange).
	for _, target := range []string{srv.URL + "/hook", "http://localhost" + port + "/hook"} {
		_, err := s.Send(context.Background(), target, testKeys, Message{ID: "1", Event: "e", Body: []byte("{}")}, time.Now())
		if !errors.Is(err, ErrBlockedAddress) {
			t.Fatalf("Send(%s) = %v, want ErrBlockedAddress", target, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("blocked target received %d requests", hits.Load())
	}
}

func TestSenderTreatsRedirectsErrorsAndSlowAnswersAsFailures(t *testing.T) {
	var elsewhere atomic.Int32
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	s := &Sender{AllowPrivate: true, Timeout: 300 * time.Millisecond}
	m := Message{ID: "1", Event: "e", Body: []byte("{}")}
	for _, c := range []struct {
		path   string
		status int
	}{{"/moved", 307}, {"/broken", 500}, {"/slow", 0}} {
		res, err := s.Send(context.Background(), srv.URL+c.path, testKeys, m, time.Now())
		var se *StatusError
		if err == nil || res.Status != c.status || (c.status != 0) != errors.As(err, &se) {
			t.Errorf("%s: %+v %v", c.path, res, err)
		}
	}
	if elsewhere.Load() != 0 {
		t.Fatal("redirect was followed")
	}
}
