package main

import (
	"bytes"
	"context"
	le "encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"voxgate/audio"
	"voxgate/internal/shared"
)

// peakRSSBound is the stated bound on a server's peak resident memory
// through a burst of 50 concurrent maximum-size uploads, with the default
// audio budget (256 MiB) and analysis slots. Before the budget, 24 such
// uploads took the server to 4.9 GB.
const peakRSSBound = 900 << 20

// TestBurstOfMaximumSizeUploadsStaysUnderTheMemoryBound sends 50 concurrent
// POST /v1/voiceid/enroll of a 22 MB, 192 kHz, 8-bit WAV (114 s of real
// speech) to a real `voxgate serve` and reads its peak RSS (VmHWM) from
// /proc. Every answer must be 200, or 503 with Retry-After (the budget
// shedding the burst); none may be another error.
func TestBurstOfMaximumSizeUploadsStaysUnderTheMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("50 uploads of 22 MB")
	}
	big := bigWAV(t)
	data := t.TempDir()
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	srv := startCrashServer(t, data, nil)
	before := vmHWM(t, srv.cmd.Process.Pid)

	const n = 50
	statuses := make([]int, n)
	retryAfter := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, hdr, err := postVoiceID(srv.base, created.Key, big)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			statuses[i], retryAfter[i] = st, hdr
		})
	}
	wg.Wait()
	peak := vmHWM(t, srv.cmd.Process.Pid)
	counts := map[int]int{}
	for i, st := range statuses {
		counts[st]++
		switch {
		case st == http.StatusOK:
		case st == http.StatusServiceUnavailable && retryAfter[i] != "":
		default:
			t.Errorf("upload %d: status %d (Retry-After %q), want 200 or 503 with Retry-After", i, st, retryAfter[i])
		}
	}
	t.Logf("peak RSS %d MiB (%d MiB before the burst), bound %d MiB; answers %v", peak>>20, before>>20, peakRSSBound>>20, counts)
	if counts[http.StatusOK] == 0 {
		t.Error("no upload was served at all")
	}
	if peak > peakRSSBound {
		t.Fatalf("peak RSS %d MiB exceeds the %d MiB bound", peak>>20, peakRSSBound>>20)
	}
}

// bigWAV is 114 s of LibriSpeech speech as a 192 kHz, 8-bit mono WAV of
// about 22 MB: the largest upload the default limits accept (25 MB, 120 s)
// that decodes to the most samples.
func bigWAV(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(shared.Path(t, "voice-data/corpora/librispeech/test-other/3005/3005-163389-0003.flac"))
	if err != nil {
		t.Fatal(err)
	}
	clip, err := (&audio.Decoder{}).Decode(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	const rate, seconds = 192000, 114
	up := audio.Resample(clip.Samples, audio.Rate, rate)
	frames := rate * seconds
	var b bytes.Buffer
	b.WriteString("RIFF")
	le.Write(&b, le.LittleEndian, uint32(36+frames))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate), uint16(1), uint16(8)} {
		le.Write(&b, le.LittleEndian, v)
	}
	b.WriteString("data")
	le.Write(&b, le.LittleEndian, uint32(frames))
	for i := range frames {
		v := up[i%len(up)]
		b.WriteByte(byte(min(255, max(0, 128+int(v*127)))))
	}
	return b.Bytes()
}

func postVoiceID(base, key string, wav []byte) (int, string, error) {
	var b bytes.Buffer
	b.Grow(len(wav) + 1024)
	boundary := "voxgateburstboundary"
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\nalice\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n", boundary)
	b.Write(wav)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	req, _ := http.NewRequest("POST", base+"/v1/voiceid/enroll", &b)
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// vmHWM reads a process's peak resident set size, bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
