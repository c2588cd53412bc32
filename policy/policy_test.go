package policy

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecideBranches(t *testing.T) {
	c := DefaultConfig()
	good := Evidence{
		Voice:         Voice{Score: 0.8, Threshold: 0.5, High: 0.6, Confidence: 0.97}, // retry band 0.45..0.5
		Liveness:      Liveness{SpoofChecked: true, SpoofProbability: 0.05, SpoofThreshold: 0.5},
		SpeechSeconds: 3, SNRdB: 30,
	}
	with := func(f func(*Evidence)) Evidence { e := good; f(&e); return e }
	phrase := func(score float64) *Phrase { return &Phrase{Score: score, Threshold: 0, Recognized: "silver bridge"} }
	for _, tc := range []struct {
		name     string
		e        Evidence
		decision string
		reason   string
		signals  Signals
	}{
		{"clean accept", good, Accept, "", Signals{High, NotChecked, High}},
		{"accept with phrase", with(func(e *Evidence) { e.Phrase = phrase(2) }), Accept, "", Signals{High, High, High}},
		{"replay beats everything", with(func(e *Evidence) { e.Liveness.Replay = true }), Reject, ReasonReplay, Signals{High, NotChecked, Low}},
		{"spoof", with(func(e *Evidence) { e.Liveness.SpoofProbability = 0.9 }), Reject, ReasonSpoof, Signals{High, NotChecked, Low}},
		{"spoof flagged only", with(func(e *Evidence) { e.Liveness.SpoofProbability, e.Liveness.SpoofFlagOnly = 0.9, true }), Accept, "", Signals{High, NotChecked, Low}},
		{"replay rejects when spoofs are flagged only", with(func(e *Evidence) { e.Liveness.Replay, e.Liveness.SpoofFlagOnly = true, true }), Reject, ReasonReplay, Signals{High, NotChecked, Low}},
		{"phrase mismatch", with(func(e *Evidence) { e.Phrase = phrase(-3) }), Reject, ReasonPhraseMismatch, Signals{High, Low, High}},
		{"phrase unclear", with(func(e *Evidence) { e.Phrase = phrase(0.05) }), Retry, ReasonPhraseUnclear, Signals{High, Medium, High}},
		{"voice mismatch", with(func(e *Evidence) { e.Voice.Score = 0.2; e.Voice.Confidence = 0.1 }), Reject, ReasonVoiceMismatch, Signals{Low, NotChecked, High}},
		{"borderline voice", with(func(e *Evidence) { e.Voice.Score = 0.48 }), Retry, ReasonVoiceUncertain, Signals{Medium, NotChecked, High}},
		{"just over the threshold", with(func(e *Evidence) { e.Voice.Score = 0.52 }), Accept, "", Signals{Medium, NotChecked, High}},
		{"borderline in noise", with(func(e *Evidence) { e.Voice.Score = 0.48; e.SNRdB = 4 }), Retry, ReasonTooNoisy, Signals{Medium, NotChecked, High}},
		{"too little speech", with(func(e *Evidence) { e.SpeechSeconds = 0.4 }), Retry, ReasonTooShort, Signals{High, NotChecked, High}},
		{"no spoof model", with(func(e *Evidence) { e.Liveness.SpoofChecked = false }), Accept, "", Signals{High, NotChecked, Medium}},
		{"medium liveness", with(func(e *Evidence) { e.Liveness.SpoofProbability = 0.3 }), Accept, "", Signals{High, NotChecked, Medium}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.e, c)
			if d.Decision != tc.decision || d.Reason != tc.reason || d.Signals != tc.signals {
				t.Fatalf("got %s/%s %+v, want %s/%s %+v", d.Decision, d.Reason, d.Signals, tc.decision, tc.reason, tc.signals)
			}
			if len(d.Insights) == 0 {
				t.Fatal("no insights")
			}
			if d.Confidence != round3(tc.e.Voice.Confidence) {
				t.Fatalf("confidence %v", d.Confidence)
			}
		})
	}
}

func TestDecideSaysWhenAnotherUserMatchesBetter(t *testing.T) {
	for _, rival := range []float64{0, 0.4} {
		e := Evidence{
			Voice:         Voice{Score: -1, Threshold: 0.5, High: 0.6, Confidence: 0.01, Rival: rival},
			Liveness:      Liveness{SpoofChecked: true, SpoofThreshold: 0.5},
			SpeechSeconds: 3, SNRdB: 30,
		}
		d := Decide(e, DefaultConfig())
		said := slices.ContainsFunc(d.Insights, func(s string) bool { return strings.Contains(s, "another enrolled user") })
		if d.Reason != ReasonVoiceMismatch || said != (rival > 0) {
			t.Errorf("rival %v: reason %s, insights %q", rival, d.Reason, d.Insights)
		}
	}
}

// TestNeverAcceptsUnderTheThreshold: whatever the evidence, an accept needs
// the voice at or above its calibrated threshold, liveness under its limit
// and enough speech; scores in the retry band under the threshold retry.
func TestNeverAcceptsUnderTheThreshold(t *testing.T) {
	c := DefaultConfig()
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 10000; i++ {
		e := Evidence{
			Voice:         Voice{Score: r.Float64()*2 - 1, Threshold: r.Float64() - 0.5, High: r.Float64()*2 - 1},
			Liveness:      Liveness{SpoofChecked: true, SpoofProbability: r.Float64(), SpoofThreshold: 0.5},
			SpeechSeconds: r.Float64() * 4, SNRdB: r.Float64() * 40,
		}
		d := Decide(e, c)
		if d.Decision == Accept && (e.Voice.Score < e.Voice.Threshold || e.Liveness.SpoofProbability >= 0.5 || e.SpeechSeconds < c.MinAcceptSpeech) {
			t.Fatalf("accepted weak evidence: %+v", e)
		}
		if d.Decision == Reject && d.Reason == ReasonVoiceMismatch && e.Voice.Score >= e.Voice.Threshold-c.voiceMargin(e.Voice) {
			t.Fatalf("rejected a score in the retry band: %+v", e)
		}
	}
}

func TestLimitsCooldownGrowsThenLocks(t *testing.T) {
	l := DefaultLimits()
	now := time.Unix(1_700_000_000, 0)
	var s Standing
	var last time.Duration
	for i := 1; i <= 50; i++ {
		if reason, _ := l.Gate(s, now); reason != "" {
			t.Fatalf("attempt %d gated by %s before its cooldown", i, reason)
		}
		s = l.Failed(s, now)
		reason, after := l.Gate(s, now)
		switch {
		case i < 5:
			if reason != "" || l.RetriesLeft(s) != 5-i {
				t.Fatalf("failure %d: %s, retries left %d", i, reason, l.RetriesLeft(s))
			}
		case i < 50:
			if reason != ReasonCooldown || after < last || after > time.Hour {
				t.Fatalf("failure %d: %s after %v (previous %v)", i, reason, after, last)
			}
			last = after
			now = now.Add(after) // wait it out
		default:
			if reason != ReasonLocked {
				t.Fatalf("failure 50: %s, want locked", reason)
			}
		}
	}
	if l.Delay(5) != 30*time.Second || l.Delay(6) != time.Minute || l.Delay(40) != time.Hour {
		t.Fatalf("delays %v %v %v", l.Delay(5), l.Delay(6), l.Delay(40))
	}
	if s = l.Succeeded(s); s.Failures != 0 || s.Locked {
		t.Fatalf("success did not reset: %+v", s)
	}
}

func unit(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestLearningOnlyFromStrongGenuineAccepts(t *testing.T) {
	l := DefaultLearning()
	strong := Decision{Decision: Accept, Signals: Signals{High, NotChecked, High}}
	for _, tc := range []struct {
		d          Decision
		challenged bool
		want       bool
	}{
		{strong, false, true},
		{Decision{Decision: Accept, Signals: Signals{Medium, NotChecked, High}}, false, false},
		{Decision{Decision: Accept, Signals: Signals{High, NotChecked, Medium}}, false, false},
		{Decision{Decision: Accept, Signals: Signals{High, Medium, High}}, true, false},
		{Decision{Decision: Accept, Signals: Signals{High, High, High}}, true, true},
		{Decision{Decision: Retry, Signals: Signals{High, NotChecked, High}}, false, false},
	} {
		if got := l.MayLearn(tc.d, tc.challenged); got != tc.want {
			t.Errorf("MayLearn(%+v, %v) = %v", tc.d, tc.challenged, got)
		}
	}
}

func TestLearningIsDriftBounded(t *testing.T) {
	l := DefaultLearning()
	r := rand.New(rand.NewPCG(3, 4))
	enrolled := unit(r, 256)
	other := unit(r, 256)
	tmpl := enrolled
	updates := 0
	for i := 0; i < 200; i++ { // even if 200 foreign probes were all accepted
		if next := l.Update(tmpl, enrolled, other); next != nil {
			tmpl = next
			updates++
		}
	}
	if c := cos(tmpl, enrolled); c < l.MinDriftCosine-1e-6 {
		t.Fatalf("template drifted to cosine %.3f after %d updates", c, updates)
	}
	if updates == 200 {
		t.Fatal("drift bound never refused an update")
	}
}

func TestProgress(t *testing.T) {
	l := DefaultLearning()
	for _, tc := range []struct {
		speech float64
		n      int
		want   float64
	}{{0, 0, 0}, {10, 0, 0.25}, {20, 0, 0.5}, {20, 10, 0.75}, {40, 100, 1}} {
		if got := l.Progress(tc.speech, 10, tc.n); got != tc.want {
			t.Errorf("Progress(%v, %d) = %v, want %v", tc.speech, tc.n, got, tc.want)
		}
	}
}

func TestVoiceMarginFollowsTheModelsScale(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		v    Voice
		want string
	}{
		{Voice{Score: 2.8, Threshold: 2.8, High: 3.6}, Accept},  // at the threshold: its calibrated false-accept rate
		{Voice{Score: 2.65, Threshold: 2.8, High: 3.6}, Retry},  // just short: band 2.4..2.8
		{Voice{Score: 2.45, Threshold: 2.8, High: 3.6}, Retry},  // still in the band
		{Voice{Score: 3.3, Threshold: 2.8, High: 3.6}, Accept},  // medium tier
		{Voice{Score: 2.35, Threshold: 2.8, High: 3.6}, Reject}, // under the band
	} {
		e := Evidence{Voice: tc.v, Liveness: Liveness{SpoofChecked: true, SpoofThreshold: 0.5}, SpeechSeconds: 3, SNRdB: 30}
		if d := Decide(e, c); d.Decision != tc.want {
			t.Errorf("%+v: %s, want %s", tc.v, d.Decision, tc.want)
		}
	}
	e := Evidence{Voice: Voice{Score: 3.3, Threshold: 2.8, High: 3.6}, Liveness: Liveness{SpoofChecked: true, SpoofThreshold: 0.5}, SpeechSeconds: 3, SNRdB: 30}
	if d := Decide(e, c); d.Signals.Voice != Medium || DefaultLearning().MayLearn(d, false) {
		t.Fatalf("an accept below the strict threshold must be medium and must not learn: %+v", d)
	}
}

func TestLearningBarSitsHalfwayToTheGenuineLevel(t *testing.T) {
	l := DefaultLearning()
	tests := []struct{ high, genuine, want float64 }{
		{4, 10, 7}, // halfway from the high tier to the user's level
		{4, 0, 4},  // unknown level (one enrollment sample): the high tier
		{4, 3, 4},  // a level under the high tier never lowers the bar
		{-1, 1, 0}, // any scale
	}
	for _, tt := range tests {
		if got := l.Bar(tt.high, tt.genuine); got != tt.want {
			t.Errorf("Bar(%v, %v) = %v, want %v", tt.high, tt.genuine, got, tt.want)
		}
	}
}
