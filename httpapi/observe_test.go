package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/service"
	"voxgate/webhook"
)

// logLines returns the JSON log lines for which keep is true.
func logLines(t *testing.T, logs *syncBuffer, keep func(map[string]any) bool) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// sample returns the value of one sample of /metrics ("name{labels}" as
// exposed, labels sorted by name), and whether it is there.
func (e *testEnv) sample(series string) (float64, bool) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("%s: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// waitMetric waits until the series reaches want (workers record their
// outcome just after the receiver answers).
func (e *testEnv) waitMetric(series string, want float64) {
	e.t.Helper()
	var got float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, _ = e.sample(series); got == want {
			return
		}
	}
	e.t.Fatalf("%s = %v, want %v", series, got, want)
}

func TestAsyncJobLinesAndMetricsFollowTheSubmittingRequest(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{})
	enrollNeutral(t, e.testEnv, key, "actor1", 1)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	correlation := ids.UUID()
	b, _ := json.Marshal(submission("actor1", ravdess(t, 1, 2, 1, 1, 1), nil))
	req, _ := http.NewRequest("POST", e.srv.URL+"/organisations/acme/verifications", bytes.NewReader(b))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("X-Correlation-ID", correlation)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Correlation-ID") != correlation {
		t.Fatalf("submission: %d, correlation %q", resp.StatusCode, resp.Header.Get("X-Correlation-ID"))
	}
	ev := rc.event(60 * time.Second)
	decision, _ := ev["decision"].(string)
	reason, _ := ev["reason"].(string)

	// Every line of the request, of its job and of its delivery carries the
	// request's correlation ID and trace ID, on the worker's side too.
	want := []string{"async job queued", "request", "async job done", "webhook delivered"}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = got[:0]
		for _, l := range logLines(t, e.logs, func(m map[string]any) bool { return m["correlation_id"] == correlation }) {
			if l["trace_id"] != traceID || len(l["span_id"].(string)) != 16 {
				t.Fatalf("line without the request's trace: %v", l)
			}
			got = append(got, l["msg"].(string))
		}
		if strings.Join(got, ",") == strings.Join(want, ",") {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("lines with the request's correlation id: %q, want %q", got, want)
	}
	for _, l := range logLines(t, e.logs, func(m map[string]any) bool { return m["msg"] == "webhook delivered" }) {
		if _, ok := l["latency_ms"].(float64); !ok {
			t.Fatalf("delivery line without latency_ms: %v", l)
		}
	}

	e.waitMetric(`voxgate_decisions_total{decision="`+decision+`",face="async",reason="`+reason+`"}`, 1)
	e.waitMetric("voxgate_webhook_delivery_attempts_total", 1)
	e.waitMetric("voxgate_webhook_delivery_failures_total", 0)
	e.waitMetric(`voxgate_async_queue_depth{queue="jobs"}`, 0)
	e.waitMetric(`voxgate_async_queue_depth{queue="deliveries"}`, 0)
	e.waitMetric(`voxgate_async_queue_oldest_age_seconds{queue="jobs"}`, 0)
	// The native face's decisions share the metric.
	if st, _ := e.upload("/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 2, 1, 2, 1)); st != 200 {
		t.Fatalf("native verify: %d", st)
	}
	found := false
	for _, face := range []string{"native", "async"} {
		resp, _ := http.Get(e.srv.URL + "/metrics")
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		found = strings.Contains(string(raw), `voxgate_decisions_total{decision=`) && strings.Contains(string(raw), `face="`+face+`"`)
		if !found {
			t.Fatalf("no %s decision in /metrics", face)
		}
	}
}

func TestQueueMetricsShowTheBacklog(t *testing.T) {
	// No workers run: the job waits in the queue.
	e := newBioEnv(t, asyncConfig(service.AsyncConfig{}))
	key := e.key("acme", voxgate.ScopeAdmin)
	if st, body, _ := e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": "http://127.0.0.1:9/hook"}); st != 200 {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	if st, body, _ := e.do("POST", "/organisations/acme/verifications", key, submission("ghost", ravdess(t, 1, 2, 1, 1, 1), nil)); st != 202 {
		t.Fatalf("submission: %d %v", st, body)
	}
	if n, _ := e.sample(`voxgate_async_queue_depth{queue="jobs"}`); n != 1 {
		t.Fatalf("jobs queued = %v, want 1", n)
	}
	time.Sleep(1100 * time.Millisecond)
	if age, _ := e.sample(`voxgate_async_queue_oldest_age_seconds{queue="jobs"}`); age < 1 || age > 60 {
		t.Fatalf("oldest job age = %v s, want about 1", age)
	}
}

func TestWebhookFailureAndDeadLetterMetrics(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{
		Backoff: webhook.Backoff{Base: 10 * time.Millisecond, Cap: 40 * time.Millisecond},
		Window:  300 * time.Millisecond,
	})
	rc.status.Store(func(int) int { return http.StatusServiceUnavailable })
	if st, body, _ := e.do("POST", "/organisations/acme/verifications", key, submission("ghost", ravdess(t, 1, 2, 1, 1, 1), nil)); st != 202 {
		t.Fatalf("submission: %d %v", st, body)
	}
	e.waitMetric("voxgate_webhook_dead_letters_total", 1)
	attempts, _ := e.sample("voxgate_webhook_delivery_attempts_total")
	failures, _ := e.sample("voxgate_webhook_delivery_failures_total")
	if attempts < 2 || failures != attempts || int32(attempts) != rc.calls.Load() {
		t.Fatalf("attempts %v, failures %v, receiver saw %d", attempts, failures, rc.calls.Load())
	}
	if lines := logLines(t, e.logs, func(m map[string]any) bool { return m["msg"] == "webhook dead-lettered" }); len(lines) != 1 || lines[0]["correlation_id"] == nil {
		t.Fatalf("dead-letter lines: %v", lines)
	}
}

func TestUnmatchedRouteLogsItsPath(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/no-such-route/x", "", nil)
	lines := logLines(t, e.logs, func(m map[string]any) bool { return m["msg"] == "request" && m["status"] == float64(404) })
	if len(lines) != 1 || lines[0]["path"] != "/v1/no-such-route/x" || lines[0]["route"] != "" || lines[0]["trace_id"] == nil {
		t.Fatalf("request lines: %v", lines)
	}
	e.do("GET", "/healthz", "", nil)
	for _, l := range logLines(t, e.logs, func(m map[string]any) bool { return m["route"] == "GET /healthz" }) {
		if _, ok := l["path"]; ok {
			t.Fatalf("a matched route logs its path: %v", l)
		}
	}
}
