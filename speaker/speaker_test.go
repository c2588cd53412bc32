package speaker

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/audio"
	"voxgate/internal/shared"
	"voxgate/tensor"
)

var (
	loadOnce sync.Once
	shipped  *Model
	loadErr  error
)

func model(t testing.TB) *Model {
	t.Helper()
	loadOnce.Do(func() { shipped, loadErr = Load() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return shipped
}

type parityFile struct {
	ModelVersion string `json:"model_version"`
	Cases        []struct {
		Frames    int       `json:"frames"`
		LogMel    []float32 `json:"logmel"`
		Mask      []int     `json:"mask"`
		Embedding []float32 `json:"embedding"`
	} `json:"cases"`
	Score struct {
		Raw        float64 `json:"raw"`
		Normalized float64 `json:"normalized"`
	} `json:"score"`
}

// TestEmbeddingMatchesTrainingCode feeds the log-mel inputs stored by
// train/speaker/train_stats.py through the shipped Go model and compares the
// embeddings and s-normalised score with the ones the training code computed.
func TestEmbeddingMatchesTrainingCode(t *testing.T) {
	checkParity(t, model(t), "testdata/parity.json")
}

// TestTDNNMatchesPyTorch does the same for the neural embedding kind, with a
// tiny TDNN (16 channels) and the references PyTorch computed for it
// (train_nn.py + calibrate.py).
func TestTDNNMatchesPyTorch(t *testing.T) {
	m, err := LoadFile("testdata/tdnn_tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, m, "testdata/tdnn_tiny_parity.json")
}

func checkParity(t *testing.T, m *Model, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pf parityFile
	if err := json.Unmarshal(b, &pf); err != nil {
		t.Fatal(err)
	}
	if pf.ModelVersion != m.Version() {
		t.Fatalf("parity file is for %s, model is %s", pf.ModelVersion, m.Version())
	}
	var embs [][]float32
	for i, c := range pf.Cases {
		mask := make([]bool, len(c.Mask))
		for j, v := range c.Mask {
			mask[j] = v != 0
		}
		got := make([]float32, Dim)
		w := m.pool.Get().(*work)
		m.embedLogMel(w, got, c.LogMel, mask)
		m.pool.Put(w)
		var worst float64
		for j := range got {
			worst = math.Max(worst, math.Abs(float64(got[j]-c.Embedding[j])))
		}
		if worst > 1e-4 {
			t.Errorf("case %d (%d frames): max |Go - reference| = %g", i, c.Frames, worst)
		}
		embs = append(embs, got)
	}
	s := m.Score(embs[0], embs[1])
	if math.Abs(s.Raw-pf.Score.Raw) > 1e-4 || math.Abs(s.Normalized-pf.Score.Normalized) > 1e-3 {
		t.Errorf("score %+v, want raw %v normalized %v", s, pf.Score.Raw, pf.Score.Normalized)
	}
}

func TestEmbedIsUnitLengthAndDeterministic(t *testing.T) {
	m := model(t)
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*16000)
	for i := range x {
		// a voiced-like buzz with noise, loud in the middle second
		amp := float32(0.01)
		if i > 16000 && i < 32000 {
			amp = 0.3
		}
		x[i] = amp * (float32(math.Sin(2*math.Pi*150*float64(i)/16000)) + 0.3*float32(rng.NormFloat64()))
	}
	a, err := m.Embed(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Embed(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for i := range a {
		n += float64(a[i]) * float64(a[i])
		if a[i] != b[i] {
			t.Fatalf("embedding differs at %d: %v vs %v", i, a[i], b[i])
		}
	}
	if len(a) != Dim || math.Abs(n-1) > 1e-5 {
		t.Errorf("len %d, squared norm %v", len(a), n)
	}
	if _, err := m.Embed(x[:100], nil); err != ErrTooShort {
		t.Errorf("short audio: err = %v, want ErrTooShort", err)
	}
}

func TestEnrollWeighsEmbeddingsBySpeech(t *testing.T) {
	m := model(t)
	e1 := make([]float32, Dim)
	e2 := make([]float32, Dim)
	e1[0], e2[1] = 2, 1 // e1 not normalised: Enroll normalises each input
	tests := []struct {
		name    string
		weights []float64
		want0   float64 // expected Vector[0]
		samples int
	}{
		{"equal by default", nil, math.Sqrt(0.5), 2},
		{"three to one", []float64{3, 1}, 3 / math.Sqrt(10), 2},
		{"zero weight drops", []float64{0, 5}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := m.Enroll([][]float32{e1, e2}, tc.weights)
			if math.Abs(float64(tp.Vector[0])-tc.want0) > 1e-6 || tp.Samples != tc.samples {
				t.Errorf("template[0] = %v samples %d; want %v, %d", tp.Vector[0], tp.Samples, tc.want0, tc.samples)
			}
		})
	}
	if tp := m.Enroll(nil, nil); tp.Vector != nil {
		t.Errorf("empty enrollment gave %+v", tp)
	}
}

func TestThresholdTightensWithLowerFAR(t *testing.T) {
	m := model(t)
	prev := math.Inf(-1)
	for _, far := range []float64{0.2, 0.05, 0.01, 0.001} {
		th := m.Threshold(far)
		if th < prev {
			t.Errorf("Threshold(%v) = %v below Threshold of a higher FAR (%v)", far, th, prev)
		}
		prev = th
	}
	c := m.Calibrate(0.01)
	if c.High < c.Threshold {
		t.Errorf("calibration %+v: high tier below accept threshold", c)
	}
}

// TestScoreSeparatesRealSpeakers enrolls two LibriSpeech speakers from the
// dev set and checks each probe scores higher against its own template.
func TestScoreSeparatesRealSpeakers(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes real audio")
	}
	root := filepath.Join(shared.Dir(t), "voice-data", "corpora", "librispeech", "test-other")
	m := model(t)
	spk := []string{"1688", "1998"}
	files := map[string][]string{}
	for _, s := range spk {
		fs, _ := filepath.Glob(filepath.Join(root, s, "*.flac"))
		if len(fs) < 3 {
			t.Fatalf("speaker %s: %d files", s, len(fs))
		}
		files[s] = fs[:3]
	}
	tmpl := map[string]Template{}
	probe := map[string][]float32{}
	for _, s := range spk {
		var embs [][]float32
		for _, f := range files[s][:2] {
			e, err := m.Embed(testaudio.Decode(t, f), nil)
			if err != nil {
				t.Fatal(err)
			}
			embs = append(embs, e)
		}
		tmpl[s] = m.Enroll(embs, nil)
		e, err := m.Embed(testaudio.Decode(t, files[s][2]), nil)
		if err != nil {
			t.Fatal(err)
		}
		probe[s] = e
	}
	for _, s := range spk {
		for _, o := range spk {
			sc := m.Score(tmpl[s].Vector, probe[o])
			t.Logf("template %s probe %s: %+v", s, o, sc)
			if s == o && (sc.Tier == TierLow || sc.Confidence < 0.5) {
				t.Errorf("same speaker %s scored %+v", s, sc)
			}
			if s != o && sc.Tier != TierLow {
				t.Errorf("template %s accepted probe %s: %+v", s, o, sc)
			}
		}
	}
}

func TestModelIsSafeForConcurrentUse(t *testing.T) {
	m := model(t)
	x := make([]float32, 16000)
	for i := range x {
		x[i] = 0.2 * float32(math.Sin(float64(i)*0.07)*math.Sin(float64(i)*0.0011))
	}
	want, err := m.Embed(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.Embed(x, nil)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("concurrent embedding differs at %d", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkEmbed10s measures embedding 10 s of audio on one core; the
// real-time factor is ns/op / 1e10 (must stay <= 0.02).
func BenchmarkEmbed10s(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	m := model(b)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 10*16000)
	for i := range x {
		x[i] = 0.1*float32(math.Sin(2*math.Pi*120*float64(i)/16000)) + 0.05*float32(rng.NormFloat64())
	}
	speech := make([]bool, len(x)/160) // all speech: the worst case
	for i := range speech {
		speech[i] = true
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Embed(x, speech); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)/10, "rtf")
}

// ExampleModel_Score shows the enroll-then-verify flow.
func ExampleModel_Score() {
	m, err := Load()
	if err != nil {
		panic(err)
	}
	var enrollClips, probeClip [][]float32 // 16 kHz mono recordings
	_ = probeClip
	var embs [][]float32
	var speech []float64
	for _, c := range enrollClips {
		e, err := m.Embed(c, nil)
		if err != nil {
			continue
		}
		embs = append(embs, e)
		speech = append(speech, float64(len(c))/16000)
	}
	t := m.Enroll(embs, speech)
	_ = t // later: m.Score(t.Vector, probeEmbedding).Tier
}

// randomUnit returns a generator of unit vectors ([Dim]) near base: base
// plus Gaussian noise of the given scale per entry (nil base: noise alone).
func randomUnit(rng *rand.Rand) func(base []float32, noise float32) []float32 {
	return func(base []float32, noise float32) []float32 {
		v := make([]float32, Dim)
		for i := range v {
			v[i] = noise * float32(rng.NormFloat64())
			if base != nil {
				v[i] += base[i]
			}
		}
		normalize(v)
		return v
	}
}

// TestDomainCohortNormalisesAgainstTheDeployment checks that a deployment's
// own cohort joins the normalisation: impostor vectors close to the probe
// (users who share its microphone and room) lower the normalised score, while
// the claimed user's own vectors in the cohort are ignored.
func TestDomainCohortNormalisesAgainstTheDeployment(t *testing.T) {
	m := model(t)
	unit := randomUnit(rand.New(rand.NewPCG(1, 2)))
	tmpl := unit(nil, 1)
	probe := unit(tmpl, 0.08) // close to the template: a high raw score
	var near [][]float32
	var others, claimed []string
	for i := 0; i < 300; i++ {
		near = append(near, unit(probe, 0.08))
		others = append(others, "user"+strconv.Itoa(i%30))
		claimed = append(claimed, "alice")
	}
	c := m.Calibrate(DefaultTargetFAR)
	base := c.Score(m, tmpl, probe)
	tests := []struct {
		name   string
		domain *Cohort
		lower  bool
	}{
		{"nil domain", nil, false},
		{"empty domain", m.NewCohort(nil, nil), false},
		{"claimed user's own samples", m.NewCohort(claimed, near), false},
		{"wrong lengths skipped", m.NewCohort(others[:2], [][]float32{{1, 2}, make([]float32, Dim)}), false},
		{"impostors near the probe", m.NewCohort(others, near), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.ScoreIn(m, tmpl, probe, tt.domain, "alice")
			if got.Raw != base.Raw {
				t.Fatalf("raw score changed: %v vs %v", got.Raw, base.Raw)
			}
			if tt.lower {
				if got.Normalized >= base.Normalized-1 {
					t.Fatalf("normalised %v, without the domain %v: want clearly lower", got.Normalized, base.Normalized)
				}
				return
			}
			if math.Abs(got.Normalized-base.Normalized) > 1e-9 {
				t.Fatalf("normalised %v, want %v as without a domain (cohort of %d)", got.Normalized, base.Normalized, tt.domain.Len())
			}
		})
	}
}

// TestRivalLowersClaimsCloserToAnotherUser checks the rival rule: a probe
// that matches another user of the deployment better than the claimed one
// loses RivalWeight times the difference, and nothing else changes a score.
func TestRivalLowersClaimsCloserToAnotherUser(t *testing.T) {
	m := model(t)
	unit := randomUnit(rand.New(rand.NewPCG(3, 4)))
	tmpl := unit(nil, 1)
	probe := unit(tmpl, 0.15)
	samples := func(owner string, base []float32, noise float32) ([]string, [][]float32) {
		var o []string
		var e [][]float32
		for range 4 {
			o = append(o, owner)
			e = append(e, unit(base, noise))
		}
		return o, e
	}
	c := m.Calibrate(DefaultTargetFAR)
	base := c.Score(m, tmpl, probe)
	bobO, bobE := samples("bob", probe, 0.02) // bob sounds like the probe, more than alice does
	farO, farE := samples("carol", nil, 1)    // carol sounds like no one here
	aliceO, aliceE := samples("alice", probe, 0.02)
	tests := []struct {
		name   string
		owners []string
		embs   [][]float32
		rival  bool
	}{
		{"a closer rival", bobO, bobE, true},
		{"a distant user", farO, farE, false},
		{"the claimed user is no rival", aliceO, aliceE, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain := m.NewCohort(tt.owners, tt.embs)
			got := c.ScoreIn(m, tmpl, probe, domain, "alice")
			if !tt.rival {
				if got.Rival != 0 || math.Abs(got.Normalized-base.Normalized) > 1e-9 {
					t.Fatalf("Rival %v, normalised %v: want 0 and %v as without the cohort", got.Rival, got.Normalized, base.Normalized)
				}
				return
			}
			if got.Rival <= 0 {
				t.Fatalf("Rival = %v, want > 0 (bob matches the probe better)", got.Rival)
			}
			// By hand: the claim's s-norm score with bob's vectors in the
			// cohort, and bob's as if he were claimed (his centroid as the
			// template, the probe's statistics shared).
			mt, st := m.cohortStats(tmpl, m.norms(tmpl), domain, "alice")
			mp, sp := m.cohortStats(probe, m.norms(probe), domain, "alice")
			claim := 0.5 * ((got.Raw-mt)/st + (got.Raw-mp)/sp)
			centroid := m.Enroll(tt.embs, nil).Vector
			mb, sb := m.cohortStats(centroid, m.norms(centroid), domain, "bob")
			rawBob := m.sim(centroid, m.norms(centroid), probe, m.norms(probe))
			bob := 0.5 * ((rawBob-mb)/sb + (rawBob-mp)/sp)
			if math.Abs(got.Rival-(bob-claim)) > 1e-4 || math.Abs(got.Normalized-(claim-RivalWeight*(bob-claim))) > 1e-4 {
				t.Fatalf("normalised %v, rival %v; by hand: claim %v, bob %v", got.Normalized, got.Rival, claim, bob)
			}
			if got.Normalized >= base.Normalized {
				t.Fatalf("normalised %v, want below %v (without a cohort)", got.Normalized, base.Normalized)
			}
			if got.Confidence >= base.Confidence {
				t.Fatalf("confidence %v, want below %v: it follows the lowered score", got.Confidence, base.Confidence)
			}
		})
	}
}

// benchCohort is a full tenant cohort: 256 samples of 64 users.
func benchCohort(b *testing.B) (*Model, []string, [][]float32) {
	m := model(b)
	rng := rand.New(rand.NewPCG(5, 6))
	var owners []string
	var embs [][]float32
	for i := range 256 {
		v := make([]float32, Dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		owners = append(owners, "user"+strconv.Itoa(i%64))
		embs = append(embs, v)
	}
	return m, owners, embs
}

// BenchmarkNewCohort is the cost of building a tenant's cohort (once a
// minute per tenant and node): one s-norm per user for the rival rule.
func BenchmarkNewCohort(b *testing.B) {
	m, owners, embs := benchCohort(b)
	b.ResetTimer()
	for range b.N {
		m.NewCohort(owners, embs)
	}
}

// BenchmarkScoreIn is one verification's scoring against a full tenant
// cohort: two s-norms and the rival check.
func BenchmarkScoreIn(b *testing.B) {
	m, owners, embs := benchCohort(b)
	c := m.NewCohort(owners, embs)
	cal := m.Calibrate(DefaultTargetFAR)
	b.ResetTimer()
	for range b.N {
		cal.ScoreIn(m, embs[0], embs[1], c, "user0")
	}
}

func TestLargestMatchesSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, tc := range []struct{ n, k int }{{1, 1}, {5, 5}, {10, 3}, {4702, 200}, {300, 299}} {
		for _, ties := range []bool{false, true} {
			x := make([]float64, tc.n)
			for i := range x {
				x[i] = rng.NormFloat64()
				if ties {
					x[i] = float64(rng.IntN(4))
				}
			}
			want := slices.Clone(x)
			slices.Sort(want)
			got := slices.Clone(largest(x, tc.k))
			slices.Sort(got)
			if !slices.Equal(got, want[tc.n-tc.k:]) {
				t.Errorf("n=%d k=%d ties=%v: largest = %v, want %v", tc.n, tc.k, ties, got, want[tc.n-tc.k:])
			}
		}
	}
}

// The gated upper band counts only when both recordings have it: a
// telephone-band copy of a wideband recording loses it (its gate closes), and
// the two are compared on the entries before it, reweighted.
func TestUpperBandOnlyWhereBothHaveIt(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes real audio")
	}
	m := model(t)
	if m.split == 0 {
		t.Fatalf("model %s has no gated upper band", m.Version())
	}
	fs, _ := filepath.Glob(filepath.Join(shared.Dir(t), "voice-data", "corpora", "librispeech", "test-other", "1688", "*.flac"))
	if len(fs) == 0 {
		t.Fatal("no librispeech audio")
	}
	wide := testaudio.Decode(t, fs[0])
	narrow := audio.Resample(audio.Resample(wide, 16000, 8000), 8000, 16000)
	ew, err := m.Embed(wide, nil)
	if err != nil {
		t.Fatal(err)
	}
	en, err := m.Embed(narrow, nil)
	if err != nil {
		t.Fatal(err)
	}
	nw, nn := m.norms(ew), m.norms(en)
	if !nw.upper || nn.upper {
		t.Fatalf("upper band: wideband %v, 8 kHz copy %v; want true, false", nw.upper, nn.upper)
	}
	if up := tensor.Dot(en[m.split:], en[m.split:]); up > 1e-4 {
		t.Errorf("8 kHz copy keeps %.2g of its energy in the upper band, want ~0", up)
	}
	// By hand: the cosine of the parts before the upper band, the LDA part
	// and the high band scaled to nb_weight and 1 - nb_weight.
	rescale := func(e []float32) []float32 {
		v := append([]float32(nil), e[:m.split]...)
		for i := range v {
			if i < m.lowEnd {
				v[i] *= float32(math.Sqrt(float64(m.lowScale)))
			} else {
				v[i] *= float32(math.Sqrt(float64(m.highScale)))
			}
		}
		normalize(v)
		return v
	}
	want := float64(tensor.Dot(rescale(ew), rescale(en)))
	if got := m.sim(ew, nw, en, nn); math.Abs(got-want) > 1e-5 {
		t.Errorf("sim = %v, want the reweighted cosine before the upper band %v", got, want)
	}
	if m.lowScale <= 1 || m.highScale >= 1 {
		t.Errorf("without the upper band the LDA part should gain weight: scales %v, %v", m.lowScale, m.highScale)
	}
	if got := m.sim(ew, nw, ew, nw); math.Abs(got-1) > 1e-5 {
		t.Errorf("sim with itself = %v, want 1", got)
	}
}

func TestProbeScorerScoresAsScoreIn(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 9))
	vec := func(upper bool) []float32 {
		v := make([]float32, Dim)
		for i := range v {
			if i < 69 || upper {
				v[i] = float32(rng.NormFloat64())
			}
		}
		return v
	}
	var owners []string
	var embs [][]float32
	for i := 0; i < 30; i++ {
		owners = append(owners, fmt.Sprint("u", i%10))
		embs = append(embs, vec(i%3 != 0))
	}
	domain := m.NewCohort(owners, embs)
	c := m.Calibrate(DefaultTargetFAR)
	for _, upper := range []bool{true, false} {
		probe := vec(upper)
		ps := c.NewProbeScorer(m, probe, domain)
		for i := 0; i < 12; i++ {
			claimed := fmt.Sprint("u", i)
			tm := vec(i%2 == 0)
			want := c.ScoreIn(m, tm, probe, domain, claimed)
			batch := m.TemplateSNorms([][]float32{tm, vec(true)}, domain, []string{claimed, "other"})[0]
			for _, st := range []SNorm{m.TemplateSNorm(tm, domain, claimed), batch, {}} {
				got := ps.Score(tm, st, claimed)
				if math.Abs(got.Normalized-want.Normalized) > 1e-4 || math.Abs(got.Raw-want.Raw) > 1e-6 ||
					math.Abs(got.Rival-want.Rival) > 1e-4 || got.Tier != want.Tier {
					t.Fatalf("upper %v claim %s: ProbeScorer %+v, ScoreIn %+v", upper, claimed, got, want)
				}
			}
		}
	}
}

func TestOpenSetThresholdRisesWithTheGallery(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.OpenSetThreshold(0.01, 1), m.Threshold(0.01); math.Abs(got-want) > 1e-9 {
		t.Fatalf("gallery of one: %v, want the verification threshold %v", got, want)
	}
	prev := m.OpenSetThreshold(0.01, 1)
	for _, n := range []int{2, 12, 100, 1000, 10_000, 1_000_000} {
		got := m.OpenSetThreshold(0.01, n)
		if !(got > prev) || math.IsInf(got, 0) {
			t.Fatalf("gallery %d: %v after %v", n, got, prev)
		}
		prev = got
	}
}

func TestMinTargetFARIsOneStepOfTheCalibrationTable(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	lo := m.MinTargetFAR()
	if lo <= 0 || lo > 0.001 {
		t.Fatalf("MinTargetFAR %v: the table must resolve at least 0.1 %%", lo)
	}
	// Down to it, thresholds come from the table's quantiles and rise as
	// the target falls; under it they would run on towards the largest
	// calibration score.
	if !(m.Threshold(lo) > m.Threshold(0.001) && m.Threshold(0.001) > m.Threshold(0.01)) {
		t.Errorf("thresholds %v %v %v do not rise as the target falls", m.Threshold(lo), m.Threshold(0.001), m.Threshold(0.01))
	}
}
