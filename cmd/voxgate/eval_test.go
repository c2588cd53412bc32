package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"voxgate"
	"voxgate/antispoof"
	"voxgate/eval"
	"voxgate/internal/shared"
	"voxgate/speaker"
	"voxgate/store/sqlite"
)

// TestEvalOutsidersKeepsTheTrialsAndReportsFRRAtFAR runs `voxgate eval
// --json` for real (service, SQLite, decoder, speaker model) on a small
// subset of the fsdd set, under both impostor protocols. It checks the
// report's shape, not accuracy: a dozen trials say nothing about that.
func TestEvalOutsidersKeepsTheTrialsAndReportsFRRAtFAR(t *testing.T) {
	dir := smallFSDDSet(t)
	// The shipped models (Silero VAD above all) when the shared folder has
	// them: the energy detector fallback refuses most single digits.
	var models []string
	if m := filepath.Join(shared.Dir(t), "models"); isDir(m) {
		models = []string{"--models", m}
	}
	m, err := speaker.Load()
	if err != nil {
		t.Fatal(err)
	}
	global := m.Calibrate(speaker.DefaultTargetFAR)
	type speaker struct {
		EER                 float64  `json:"eer"`
		FRRAtFAR1pct        *float64 `json:"frr_at_far_1pct"`
		FRRAtFAR01pct       *float64 `json:"frr_at_far_01pct"`
		TargetTrials        int      `json:"target_trials"`
		NontargetTrials     int      `json:"nontarget_trials"`
		EnrollSamples       int      `json:"enroll_samples"`
		RefusedSamples      int      `json:"refused_samples"`
		ThresholdAtFAR1pct  *float64 `json:"threshold_at_far_1pct"`
		ThresholdAtFAR01pct *float64 `json:"threshold_at_far_01pct"`
	}
	type report struct {
		Protocol string `json:"protocol"`
		Sets     map[string]struct {
			Speaker *speaker `json:"speaker"`
		} `json:"sets"`
	}
	run := func(args ...string) (report, map[string]any) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append(append(args, models...), "--json", "--workers", "2", dir)
		if err := runEval(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("voxgate eval %v: %v\n%s", args, err, stderr.String())
		}
		var r report
		var raw map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, stdout.String())
		}
		json.Unmarshal(stdout.Bytes(), &raw)
		return r, raw
	}
	in, inRaw := run()
	out, outRaw := run("--outsiders")
	name := filepath.Base(dir)
	for _, c := range []struct {
		want string
		r    report
		raw  map[string]any
	}{{protocolInsiders, in, inRaw}, {protocolOutsiders, out, outRaw}} {
		if c.r.Protocol != c.want {
			t.Errorf("protocol %q, want %q", c.r.Protocol, c.want)
		}
		sp := c.r.Sets[name].Speaker
		if sp == nil {
			t.Fatalf("%s: no speaker report for set %q: %v", c.want, name, c.raw)
		}
		if sp.TargetTrials != 12 || sp.NontargetTrials != 13 {
			t.Errorf("%s: %d target and %d nontarget trials, want 12 and 13", c.want, sp.TargetTrials, sp.NontargetTrials)
		}
		for field, v := range map[string]*float64{"frr_at_far_1pct": sp.FRRAtFAR1pct, "frr_at_far_01pct": sp.FRRAtFAR01pct} {
			if v == nil || *v < 0 || *v > 1 {
				t.Errorf("%s: %s = %v, want a rate in [0, 1]", c.want, field, v)
			}
		}
		rawSpeaker := c.raw["sets"].(map[string]any)[name].(map[string]any)["speaker"].(map[string]any)
		for _, field := range []string{"threshold_at_far_1pct", "threshold_at_far_01pct"} {
			if _, ok := rawSpeaker[field]; !ok {
				t.Errorf("%s: no %s in %v", c.want, field, rawSpeaker)
			}
		}
		// The threshold reported is the one the service applied: the
		// model's, moved by the tenant's domain shift (three enrolled
		// users are enough for one).
		thr, _ := rawSpeaker["threshold"].(float64)
		shift, ok := rawSpeaker["domain_shift"].(float64)
		if !ok || shift == 0 || math.Abs(thr-shift-global.Threshold) > 2e-4 {
			t.Errorf("%s: threshold %v with domain_shift %v (present: %v), want the model's %v plus the shift", c.want, thr, shift, ok, global.Threshold)
		}
	}
	// Identification: the twelve target recordings searched among the three
	// models (mated) and in the tenant without their speaker (non-mated).
	for _, raw := range []map[string]any{inRaw, outRaw} {
		id, _ := raw["sets"].(map[string]any)[name].(map[string]any)["identification"].(map[string]any)
		if id == nil || id["mated_searches"] != 12.0 || id["nonmated_searches"] != 12.0 || id["gallery"] != 3.0 {
			t.Fatalf("identification report: %v", id)
		}
		for _, f := range []string{"rank1_rate", "fnir_at_fpir_1pct", "fpir", "fnir"} {
			if v, ok := id[f].(float64); !ok || v < 0 || v > 1 {
				t.Errorf("identification %s = %v, want a rate in [0, 1]", f, id[f])
			}
		}
		t.Logf("identification on the small fsdd set: %v", id)
	}
	if _, raw := run("--identify=false"); raw["sets"].(map[string]any)[name].(map[string]any)["identification"] != nil {
		t.Errorf("--identify=false still reports identification")
	}
	// The outsider tenants' enrollments are not counted: both protocols
	// report the full tenant's.
	a, b := in.Sets[name].Speaker, out.Sets[name].Speaker
	if a.EnrollSamples+a.RefusedSamples != 12 || a.EnrollSamples != b.EnrollSamples || a.RefusedSamples != b.RefusedSamples {
		t.Errorf("enrollment counts: insiders %d kept %d refused, outsiders %d kept %d refused; want the same, 12 in all",
			a.EnrollSamples, a.RefusedSamples, b.EnrollSamples, b.RefusedSamples)
	}
}

// TestOutsiderTenantsHoldEveryModelButTheImpostor enrolls the outsider
// tenants of a small real set through the service and checks that each
// holds every model but its impostor, who can then be neither a rival nor
// in the tenant cohort.
func TestOutsiderTenantsHoldEveryModelButTheImpostor(t *testing.T) {
	set, err := eval.ReadSet(smallFSDDSet(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "eval.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng, err := buildEngine("", 0.01, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := evalService(db, set, eng)
	if err != nil {
		t.Fatal(err)
	}
	plan := planOutsiders(set)
	tenants := plan.tenants(set)
	if len(tenants) != 4 {
		t.Fatalf("%d tenants, want the full one and one per model", len(tenants))
	}
	if err := enrollTenants(ctx, svc, set, tenants, 2, newProgress(io.Discard, set.Name, 0)); err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		if tn.actor.TenantID == tenants[0].actor.TenantID && tn.skip != "" {
			t.Errorf("tenant without %s is the full tenant", tn.skip)
		}
		for _, e := range set.Enroll {
			_, err := svc.Profile(ctx, tn.actor, e.Model)
			switch code := voxgate.ErrorCode(err); {
			case e.Model == tn.skip && code != voxgate.EPROFILENOTFOUND:
				t.Errorf("tenant %s holds %s (err %v)", tn.name, e.Model, err)
			case e.Model != tn.skip && err != nil:
				t.Errorf("tenant %s lacks %s: %v", tn.name, e.Model, err)
			}
		}
	}
}

// smallFSDDSet writes a set folder of real fsdd recordings: three models
// enrolled on four digits each, four target trials each, and thirteen
// nontarget trials: each model claimed with two test recordings of each of
// the other two, and one recording of a fourth speaker enrolled nowhere.
func smallFSDDSet(t *testing.T) string {
	t.Helper()
	full, err := eval.ReadSet(filepath.Join(shared.Dir(t), "voice-data", "sets", "fsdd"))
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Enroll) < 4 {
		t.Fatalf("fsdd has %d models, want at least 4", len(full.Enroll))
	}
	tests := map[string][]string{} // model -> its target recordings
	for _, tr := range full.Trials {
		if tr.Label == eval.Target && len(tests[tr.Model]) < 4 {
			tests[tr.Model] = append(tests[tr.Model], tr.Path)
		}
	}
	models := full.Enroll[:3]
	var enroll, trials [][]string
	for _, e := range models {
		for _, p := range e.Paths[:4] {
			enroll = append(enroll, []string{e.Model, abs(t, p)})
		}
		for _, p := range tests[e.Model] {
			trials = append(trials, []string{e.Model, abs(t, p), eval.Target})
		}
		for _, s := range models {
			if s.Model != e.Model {
				for _, p := range tests[s.Model][:2] {
					trials = append(trials, []string{e.Model, abs(t, p), eval.Nontarget})
				}
			}
		}
	}
	stranger := tests[full.Enroll[3].Model][0]
	trials = append(trials, []string{models[0].Model, abs(t, stranger), eval.Nontarget})
	dir := filepath.Join(t.TempDir(), "fsdd-small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCSV(t, filepath.Join(dir, "enroll.csv"), append([][]string{{"model", "path"}}, enroll...))
	writeCSV(t, filepath.Join(dir, "trials.csv"), append([][]string{{"model", "path", "label"}}, trials...))
	return dir
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(rows)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOutsiderPlanLeavesOnlyTheImpostorOut checks, without audio, which
// tenant each trial goes to under the outsiders protocol.
func TestOutsiderPlanLeavesOnlyTheImpostorOut(t *testing.T) {
	set := &eval.Set{
		Enroll: []eval.Enrollment{
			{Model: "ann", Paths: []string{"/d/ann/e1.wav", "/d/ann/e2.wav"}},
			{Model: "bob", Paths: []string{"/d/bob/e1.wav"}},
			{Model: "cy", Paths: []string{"/d/cy/e1.wav"}},
		},
		Trials: []eval.Trial{
			{Model: "ann", Path: "/d/ann/t1.wav", Label: eval.Target},
			{Model: "bob", Path: "/d/ann/./t1.wav", Label: eval.Nontarget},   // ann's test recording, path not clean
			{Model: "cy", Path: "/d/bob/e1.wav", Label: eval.Nontarget},      // bob's enrollment recording
			{Model: "ann", Path: "/d/stranger/x.wav", Label: eval.Nontarget}, // nobody's: an outsider already
			{Model: "ann", Path: "/d/ann/e2.wav", Label: eval.Nontarget},     // ann's own voice: mislabelled
			{Model: "bob", Path: "/d/ann/t1.wav", Label: eval.Spoof},         // spoofs stay in the full tenant
		},
	}
	p := planOutsiders(set)
	if got := strings.Join(p.without, ","); got != "ann,bob" {
		t.Errorf("tenants without %q, want ann,bob", got)
	}
	// ann's tenant holds bob's and cy's 2 recordings, bob's ann's and cy's 3.
	if got := p.extraEnrollments(set); got != 5 {
		t.Errorf("extra enrollments %d, want 5", got)
	}
	tenants := p.tenants(set)
	var names []string
	for _, tn := range tenants {
		names = append(names, tn.name+"/"+tn.skip)
	}
	if got := strings.Join(names, " "); got != "eval/ eval-without-0/ann eval-without-1/bob" {
		t.Errorf("tenants %s", got)
	}
	actors := []voxgate.Actor{{TenantID: "full"}, {TenantID: "no-ann"}, {TenantID: "no-bob"}}
	want := []string{"full", "no-ann", "no-bob", "full", "full", "full"}
	for i, j := range p.route(set, actors) {
		if j.actor.TenantID != want[i] || j.Trial != set.Trials[i] {
			t.Errorf("trial %d (%+v) verified in %q, want %q", i, j.Trial, j.actor.TenantID, want[i])
		}
	}
	// The insiders protocol is the zero plan: one tenant, every trial in it.
	var zero outsiderPlan
	if n := len(zero.tenants(set)); n != 1 || zero.extraEnrollments(set) != 0 {
		t.Errorf("zero plan: %d tenants, %d extra enrollments", n, zero.extraEnrollments(set))
	}
	for i, j := range zero.route(set, actors[:1]) {
		if j.actor.TenantID != "full" {
			t.Errorf("zero plan: trial %d in %q", i, j.actor.TenantID)
		}
	}
}

// TestPrintReportShowsProtocolAndFRRAtFAR checks the text report's header
// and the new columns, a null threshold printed as "reject".
func TestPrintReportShowsProtocolAndFRRAtFAR(t *testing.T) {
	thr := 1.2345
	r := evalReport{Protocol: protocolOutsiders, ModelVersion: "m", TargetFAR: 0.01, Sets: map[string]*setReport{
		"s": {Speaker: &speakerReport{FRRAtFAR1pct: 0.125, ThresholdAtFAR1pct: &thr, FRRAtFAR01pct: 0.5}},
	}}
	var b bytes.Buffer
	printReport(&b, r)
	out := b.String()
	for _, want := range []string{"impostors: outsiders", "FRR@FAR1%", "FRR@FAR.1%", "12.50%", "1.2345", "50.00%", "reject"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestPrintReportShowsSpoofFamiliesAndCorpora checks the spoof lines per
// attack family (APCER) and per bona fide corpus (BPCER).
func TestPrintReportShowsSpoofFamiliesAndCorpora(t *testing.T) {
	e, all := 0.25, 0.1
	sr := antispoof.SetResult{EER: &all, Bonafide: 3, Spoofed: 2, Groups: []antispoof.GroupResult{
		{Name: "tortoise", Label: "spoof", N: 2, Rate: 0.5, EER: &e},
		{Name: "ravdess", Label: "bonafide", N: 3, Rate: 1.0 / 3},
	}}
	r := evalReport{Sets: map[string]*setReport{"pool": {Spoof: &spoofReport{SetResult: sr}}}}
	var b bytes.Buffer
	printReport(&b, r)
	out := b.String()
	for _, want := range []string{"EER  10.00% (raw AASIST       -)", "family tortoise", "APCER  50.00%  EER 25.00%  (2 spoofed)", "corpus ravdess", "BPCER  33.33%  EER      -  (3 bona fide)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
