package phrase

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in     string
		digits bool
		want   string
	}{
		{"Silver bridge 19", false, "silver bridge nineteen"},
		{"Kids are talking by the door.", false, "kids are talking by the door"},
		{"Login incorrect.  Please enter your agent number, followed by the pound key!", false,
			"login incorrect please enter your agent number followed by the pound key"},
		{"Sorry you're having problems.", false, "sorry you're having problems"},
		{"letters of your party's first name", false, "letters of your party's first name"},
		{"Call-Forward on No Answer.", false, "call forward on no answer"},
		{"...has joined the conference.", false, "has joined the conference"},
		{"Press 1 to call this number", false, "press one to call this number"},
		{"press 0 to reach an operator", false, "press zero to reach an operator"},
		{"2024", false, "two thousand twenty four"},
		{"105", false, "one hundred five"},
		{"1,000,000", false, "one million"},
		{"3.5", false, "three point five"},
		{"21st", false, "twenty first"},
		{"12th floor", false, "twelfth floor"},
		{"007", false, "zero zero seven"},
		{"50%", false, "fifty percent"},
		{"Tom & Jerry", false, "tom and jerry"},
		{"4719", true, "four seven one nine"},
		{"4 7 1 9 0 2", true, "four seven one nine zero two"},
		{"0", true, "zero"},
		{"", false, ""},
		{"  ¿¡  ", false, ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in, tt.digits); got != tt.want {
			t.Errorf("Normalize(%q, %v) = %q, want %q", tt.in, tt.digits, got, tt.want)
		}
	}
}

func TestSlotsOfferCommonReadings(t *testing.T) {
	join := func(s slot) []string {
		var out []string
		for _, a := range s {
			out = append(out, strings.Join(a, " "))
		}
		return out
	}
	tests := []struct {
		in     string
		digits bool
		want   [][]string
	}{
		{"0", true, [][]string{{"zero", "oh"}}},
		{"40", true, [][]string{{"four"}, {"zero", "oh"}}},
		{"1984", false, [][]string{{"one thousand nine hundred eighty four", "nineteen eighty four", "one thousand nine hundred and eighty four", "one nine eight four"}}},
		{"2024", false, [][]string{{"two thousand twenty four", "twenty twenty four", "two thousand and twenty four", "two zero two four"}}},
		{"1905", false, [][]string{{"one thousand nine hundred five", "nineteen oh five", "one thousand nine hundred and five", "one nine zero five"}}},
		{"19", false, [][]string{{"nineteen"}}},
	}
	for _, tt := range tests {
		var got [][]string
		for _, s := range slots(tt.in, tt.digits) {
			got = append(got, join(s))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("slots(%q, %v) = %q, want %q", tt.in, tt.digits, got, tt.want)
		}
	}
}

func TestCardinal(t *testing.T) {
	tests := map[int64]string{
		0:             "zero",
		13:            "thirteen",
		40:            "forty",
		99:            "ninety nine",
		100:           "one hundred",
		110:           "one hundred ten",
		1001:          "one thousand one",
		90210:         "ninety thousand two hundred ten",
		1_000_001_000: "one billion one thousand",
	}
	for n, want := range tests {
		if got := strings.Join(cardinal(n), " "); got != want {
			t.Errorf("cardinal(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestGrammarForReplacesUnknownWordsWithAPhoneLoop(t *testing.T) {
	dict := map[string]bool{"un": true, "or": true, "withheld": true, "press": true, "zero": true, "oh": true}
	g, oov := grammarFor(slots("Un-indentified or witheld, press 0", false), func(w string) bool { return dict[w] })
	if want := []string{"indentified", "witheld"}; !reflect.DeepEqual(oov, want) {
		t.Errorf("oov = %q, want %q", oov, want)
	}
	set := phoneSet()
	run := func(n int) string { return strings.TrimSpace(strings.Repeat(set+" ", n)) }
	for _, want := range []string{"public <prompt> = un " + run(9) + " or " + run(6) + " press zero ;"} {
		if !strings.Contains(g, want) {
			t.Errorf("grammar lacks %q:\n%s", want, g)
		}
	}
	g, _ = grammarFor(slots("0", true), func(w string) bool { return dict[w] })
	if !strings.Contains(g, "( zero | oh )") {
		t.Errorf("digit zero should accept zero or oh:\n%s", g)
	}
}

func TestEER(t *testing.T) {
	tests := []struct {
		name    string
		scores  []float64
		match   []bool
		wantEER float64
	}{
		{"separable", []float64{3, 4, 5, 0, 1, 2}, []bool{true, true, true, false, false, false}, 0},
		{"inverted", []float64{0, 1, 2, 3, 4, 5}, []bool{true, true, true, false, false, false}, 1},
		{"one overlap", []float64{1.5, 3, 4, 5, 0, 1, 2, 4.5}, []bool{true, true, true, true, false, false, false, false}, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eer, thr := EER(tt.scores, tt.match)
			if math.Abs(eer-tt.wantEER) > 1e-9 {
				t.Fatalf("EER = %v (threshold %v), want %v", eer, thr, tt.wantEER)
			}
			frr, far := Rates(tt.scores, tt.match, thr)
			if math.Abs((frr+far)/2-eer) > 1e-9 {
				t.Fatalf("rates at threshold %v: frr %v far %v, mean != EER %v", thr, frr, far, eer)
			}
		})
	}
	if e, _ := EER([]float64{1}, []bool{true}); !math.IsNaN(e) {
		t.Errorf("EER with no mismatches = %v, want NaN", e)
	}
}

func TestLLRPrefersThePromptThatFits(t *testing.T) {
	seg := func(w string, s, e int, a int32) segment { return segment{Word: w, Start: s, End: e, Acoustic: a} }
	align := hypothesis{Score: -100, Segs: []segment{seg("<sil>", 0, 9, -50), seg("kids", 10, 99, -900)}}
	loop := hypothesis{Score: -100, Segs: []segment{seg("phn_k", 0, 99, -1000)}}
	if got := llr(align, loop); got <= 0 {
		t.Errorf("alignment better than loop: llr %v, want > 0", got)
	}
	if got := llr(hypothesis{Score: noPath}, loop); !math.IsInf(got, -1) {
		t.Errorf("no alignment path: llr %v, want -Inf", got)
	}
	if got := llr(hypothesis{Score: -10, Segs: []segment{seg("<sil>", 0, 99, -10)}}, loop); !math.IsInf(got, -1) {
		t.Errorf("only silence aligned: llr %v, want -Inf", got)
	}
}

func TestCalibrateInterpolatesBetweenBandwidths(t *testing.T) {
	nb, mid, wb := calibrate(-1, 8000), calibrate(-1, 11025), calibrate(-1, 16000)
	if lo, hi := min(nb, wb), max(nb, wb); mid < lo || mid > hi {
		t.Errorf("11025 Hz score %v outside the 8 and 16 kHz scores %v, %v", mid, nb, wb)
	}
	if calibrate(-1, 0) != calibrate(-1, 48000) {
		t.Error("unknown rate should count as wideband")
	}
	if calibrate(-1, 16000) <= calibrate(-2, 16000) {
		t.Error("calibration must keep the order of ratios")
	}
}

func TestCleanHypothesisDropsNullMarkers(t *testing.T) {
	for in, want := range map[string]string{
		"five (NULL) eight (NULL) one": "five eight one",
		"  kids   are talking ":        "kids are talking",
		"(NULL)":                       "",
		"":                             "",
	} {
		if got := cleanHypothesis(in); got != want {
			t.Errorf("cleanHypothesis(%q) = %q, want %q", in, got, want)
		}
	}
}
