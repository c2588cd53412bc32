package antispoof

import (
	"path"
	"sort"
	"strings"
)

// Family names the source of a spoof.csv row from its path: the attack
// family of a spoof row (the synthesis system) and the corpus of a bona
// fide row. The rule, for a path relative to the CSV's folder: drop leading
// "." and ".." segments; if a "corpora" segment remains, the name is the
// folder just below it, otherwise the first folder of what remains.
// A file with no folder left gives "". So
//
//	../../corpora/tortoise/cloned/angie/x.mp3     -> tortoise
//	../../corpora/ravdess/Actor_01/y.flac          -> ravdess
//	espeak/en-us/z.wav                             -> espeak
//
// Backslashes count as separators, so CSVs written on Windows group alike.
func Family(p string) string {
	segs := strings.Split(path.Clean(strings.ReplaceAll(p, `\`, "/")), "/")
	if len(segs) > 0 {
		segs = segs[:len(segs)-1] // the file itself
	}
	for len(segs) > 0 && (segs[0] == ".." || segs[0] == "." || segs[0] == "") {
		segs = segs[1:]
	}
	for i, s := range segs {
		if s == "corpora" && i+1 < len(segs) {
			return segs[i+1]
		}
	}
	if len(segs) == 0 {
		return ""
	}
	return segs[0]
}

// GroupResult is the Detector's performance on the rows of a spoof.csv set
// that share a Family: for an attack family, Rate is its APCER and EER its
// spoofs against every bona fide row of the set; for a bona fide corpus,
// Rate is its BPCER and EER every spoof of the set against its rows.
type GroupResult struct {
	Name  string   `json:"name"`
	Label string   `json:"label"` // "spoof" or "bonafide"
	N     int      `json:"n"`
	Rate  float64  `json:"rate"`
	EER   *float64 `json:"eer,omitempty"` // nil where the set has no row of the other label
}

// groupResults splits files by Family and label. bona and spoofs are the
// whole set's scores (spoof-positive), against which each group's EER is
// taken.
func groupResults(files []FileVerdict, bona, spoofs []float64) []GroupResult {
	type acc struct {
		scores []float64
		errs   int
	}
	groups := map[[2]string]*acc{}
	for _, f := range files {
		label := "bonafide"
		if f.Spoof {
			label = "spoof"
		}
		k := [2]string{label, Family(f.Path)}
		a := groups[k]
		if a == nil {
			a = &acc{}
			groups[k] = a
		}
		a.scores = append(a.scores, f.Verdict.Score)
		if f.Spoof != f.Verdict.Spoofed {
			a.errs++
		}
	}
	out := make([]GroupResult, 0, len(groups))
	for k, a := range groups {
		g := GroupResult{Name: k[1], N: len(a.scores), Rate: float64(a.errs) / float64(len(a.scores)), Label: k[0]}
		if k[0] == "spoof" {
			g.EER = definedEER(bona, a.scores)
		} else {
			g.EER = definedEER(a.scores, spoofs)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label > out[j].Label // spoof families first
		}
		return out[i].Name < out[j].Name
	})
	return out
}
