// Package eval owns the measurement of voxgate's engine on labelled speech:
// reading the CSV evaluation sets of ../shared/voice-data (enroll.csv,
// trials.csv, phrases.csv, spoof.csv), the detection metrics (EER, minDCF,
// FAR/FRR at a threshold, DET curves) and the per-set speaker-verification
// run that the `voxgate eval` command reports.
package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Trial labels as written in trials.csv.
const (
	Target    = "target"
	Nontarget = "nontarget"
	Spoof     = "spoof"
)

// Enrollment is one enrolled identity and its recordings.
type Enrollment struct {
	Model string
	Paths []string // absolute or relative to the working dir (resolved against the CSV folder)
}

// Trial is one row of trials.csv: score Path against Model's template.
type Trial struct {
	Model string
	Path  string
	Label string // Target, Nontarget or Spoof
}

// Phrase is one row of phrases.csv: was Prompt spoken in Path?
type Phrase struct {
	Path   string
	Prompt string
	Match  bool // label "match"
}

// SpoofItem is one row of spoof.csv.
type SpoofItem struct {
	Path     string
	Bonafide bool // label "bonafide"; false means "spoof"
}

// Set is one evaluation folder. Files absent from the folder leave their
// field empty; paths are resolved against the folder.
type Set struct {
	Name    string // folder base name, the key of the --json output
	Dir     string
	Enroll  []Enrollment // in order of first appearance in enroll.csv
	Trials  []Trial
	Phrases []Phrase
	Spoofs  []SpoofItem
}

// ReadSet reads every CSV present in dir. It fails when none is present or
// one is malformed (wrong header, unknown label, wrong column count).
func ReadSet(dir string) (*Set, error) {
	s := &Set{Name: filepath.Base(filepath.Clean(dir)), Dir: dir}
	found := 0
	read := func(name string, header []string, row func(rec []string) error) error {
		recs, err := readCSV(filepath.Join(dir, name), header)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		found++
		for i, r := range recs {
			if err := row(r); err != nil {
				return fmt.Errorf("eval: %s line %d: %w", filepath.Join(dir, name), i+2, err)
			}
		}
		return nil
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	index := map[string]int{}
	if err := read("enroll.csv", []string{"model", "path"}, func(r []string) error {
		i, ok := index[r[0]]
		if !ok {
			i = len(s.Enroll)
			index[r[0]] = i
			s.Enroll = append(s.Enroll, Enrollment{Model: r[0]})
		}
		s.Enroll[i].Paths = append(s.Enroll[i].Paths, abs(r[1]))
		return nil
	}); err != nil {
		return nil, err
	}
	if err := read("trials.csv", []string{"model", "path", "label"}, func(r []string) error {
		switch r[2] {
		case Target, Nontarget, Spoof:
		default:
			return fmt.Errorf("unknown trial label %q", r[2])
		}
		s.Trials = append(s.Trials, Trial{Model: r[0], Path: abs(r[1]), Label: r[2]})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := read("phrases.csv", []string{"path", "prompt", "label"}, func(r []string) error {
		if r[2] != "match" && r[2] != "mismatch" {
			return fmt.Errorf("unknown phrase label %q", r[2])
		}
		s.Phrases = append(s.Phrases, Phrase{Path: abs(r[0]), Prompt: r[1], Match: r[2] == "match"})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := read("spoof.csv", []string{"path", "label"}, func(r []string) error {
		if r[1] != "bonafide" && r[1] != "spoof" {
			return fmt.Errorf("unknown spoof label %q", r[1])
		}
		s.Spoofs = append(s.Spoofs, SpoofItem{Path: abs(r[0]), Bonafide: r[1] == "bonafide"})
		return nil
	}); err != nil {
		return nil, err
	}
	if found == 0 {
		return nil, fmt.Errorf("eval: %s holds no enroll.csv, trials.csv, phrases.csv or spoof.csv", dir)
	}
	for _, t := range s.Trials {
		if _, ok := index[t.Model]; !ok {
			return nil, fmt.Errorf("eval: %s: trial model %q is not enrolled", dir, t.Model)
		}
	}
	return s, nil
}

// readCSV returns the records after a header that must equal want.
func readCSV(path string, want []string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(want)
	head, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("eval: %s is empty", path)
	}
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	for i := range want {
		if head[i] != want[i] {
			return nil, fmt.Errorf("eval: %s: header %v, want %v", path, head, want)
		}
	}
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	return recs, nil
}
