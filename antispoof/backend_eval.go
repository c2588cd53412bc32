package antispoof

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"voxgate/audio"
)

// SetResult is the Detector's performance on a spoof.csv set, with the
// ISO/IEC 30107-3 names: APCER is the share of spoofs (attack
// presentations) judged bona fide, BPCER the share of bona fide judged
// spoofs, both at the Detector's operating threshold.
type SetResult struct {
	// EER is nil when the set lacks one of the two labels (a set of real
	// recordings only still measures BPCER).
	EER       *float64 `json:"eer,omitempty"`
	APCER     float64  `json:"apcer"`
	BPCER     float64  `json:"bpcer"`
	Threshold float64  `json:"threshold"`
	Bonafide  int      `json:"bonafide"`
	Spoofed   int      `json:"spoofed"`
	// AASISTEER is the raw AASIST score's EER on the same files and
	// windows, for comparison (nil like EER).
	AASISTEER *float64 `json:"aasist_eer,omitempty"`
	// ASVspoof5EER is the same for the ASVspoof 5 checkpoint (fused
	// Detector only).
	ASVspoof5EER *float64 `json:"asvspoof5_eer,omitempty"`
	// Detector names the detector (Detector.Name).
	Detector string `json:"detector"`
	// Groups splits the figures by attack family (spoof rows) and by bona
	// fide corpus (see Family): APCER or BPCER at the threshold, and EER.
	Groups []GroupResult `json:"groups"`
	// Files holds each file's verdict, in CSV order.
	Files []FileVerdict `json:"-"`
}

// FileVerdict is one row of a spoof.csv set and its verdict.
type FileVerdict struct {
	Path    string // as written in the CSV
	Spoof   bool   // the label
	Verdict Verdict
}

// EvalSet scores every row of a spoof.csv file (header path,label; label
// bonafide or spoof; relative paths are taken from the CSV's folder) with d. Audio is
// decoded with the audio package's default Decoder.
func EvalSet(ctx context.Context, d *Detector, csvPath string) (SetResult, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return SetResult{}, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return SetResult{}, fmt.Errorf("antispoof: %s: %w", csvPath, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	pi, ok1 := col["path"]
	li, ok2 := col["label"]
	if !ok1 || !ok2 {
		return SetResult{}, fmt.Errorf("antispoof: %s: want columns path,label", csvPath)
	}
	dir := filepath.Dir(csvPath)
	dec := &audio.Decoder{}
	var res SetResult
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return SetResult{}, fmt.Errorf("antispoof: %s: %w", csvPath, err)
		}
		var spoof bool
		switch rec[li] {
		case "spoof":
			spoof = true
		case "bonafide":
		default:
			return SetResult{}, fmt.Errorf("antispoof: %s: label %q", csvPath, rec[li])
		}
		p := rec[pi]
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, p)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return SetResult{}, err
		}
		clip, err := dec.Decode(ctx, data)
		if err != nil {
			return SetResult{}, fmt.Errorf("antispoof: %s: %w", p, err)
		}
		v, err := d.Detail(ctx, clip.Samples)
		if err != nil {
			return SetResult{}, err
		}
		res.Files = append(res.Files, FileVerdict{Path: p, Spoof: spoof, Verdict: v})
	}
	var bona, spoofs, bonaRaw, spoofsRaw, bonaRaw2, spoofsRaw2 []float64
	var missed, rejected int
	for _, fv := range res.Files {
		v := fv.Verdict
		if fv.Spoof {
			spoofs = append(spoofs, v.Score)
			spoofsRaw = append(spoofsRaw, -v.AASIST)
			if v.ASVspoof5 != nil {
				spoofsRaw2 = append(spoofsRaw2, -*v.ASVspoof5)
			}
			if !v.Spoofed {
				missed++
			}
		} else {
			bona = append(bona, v.Score)
			bonaRaw = append(bonaRaw, -v.AASIST)
			if v.ASVspoof5 != nil {
				bonaRaw2 = append(bonaRaw2, -*v.ASVspoof5)
			}
			if v.Spoofed {
				rejected++
			}
		}
	}
	res.Bonafide, res.Spoofed = len(bona), len(spoofs)
	res.Threshold = d.Threshold()
	res.EER = definedEER(bona, spoofs)
	res.AASISTEER = definedEER(bonaRaw, spoofsRaw)
	res.ASVspoof5EER = definedEER(bonaRaw2, spoofsRaw2)
	res.Detector = d.Name()
	if len(spoofs) > 0 {
		res.APCER = float64(missed) / float64(len(spoofs))
	}
	if len(bona) > 0 {
		res.BPCER = float64(rejected) / float64(len(bona))
	}
	res.Groups = groupResults(res.Files, bona, spoofs)
	return res, nil
}

// definedEER is EER, or nil where it is undefined (a class is empty), so
// that the result encodes as JSON, which has no NaN.
func definedEER(bonafide, spoofs []float64) *float64 {
	if e := EER(bonafide, spoofs); !math.IsNaN(e) {
		return &e
	}
	return nil
}

// EER returns the equal error rate of spoof-positive scores (higher means
// more likely spoofed): the rate at which the share of spoofs below a
// threshold equals the share of bona fide at or above it, interpolated
// between the two closest thresholds. It is NaN when either list is empty.
func EER(bonafide, spoofs []float64) float64 {
	if len(bonafide) == 0 || len(spoofs) == 0 {
		return math.NaN()
	}
	b := append([]float64(nil), bonafide...)
	s := append([]float64(nil), spoofs...)
	sort.Float64s(b)
	sort.Float64s(s)
	cands := append(append([]float64(nil), b...), s...)
	sort.Float64s(cands)
	cands = append(cands, math.Inf(1))
	// rates at threshold t: miss(t) = #s < t / |s|, fa(t) = #b >= t / |b|;
	// miss rises and fa falls with t.
	prevMiss, prevFA := 0.0, 1.0
	for _, t := range cands {
		miss := float64(sort.SearchFloat64s(s, t)) / float64(len(s))
		fa := 1 - float64(sort.SearchFloat64s(b, t))/float64(len(b))
		if miss >= fa {
			// The curves cross between the previous threshold and this one:
			// interpolate along the segment joining the two points.
			d0, d1 := prevFA-prevMiss, fa-miss // d0 > 0 >= d1
			if d0-d1 == 0 {
				return (miss + fa) / 2
			}
			w := d0 / (d0 - d1)
			return prevMiss + w*(miss-prevMiss)
		}
		prevMiss, prevFA = miss, fa
	}
	return 0
}
