// Command extract computes the anti-spoofing back-end's per-window inputs
// (AASIST hidden vector and logits, spectral statistics) for a list of audio
// files and writes one JSON line per file. It is a research tool for
// train/antispoof; the product computes the same inputs in package antispoof.
//
//	extract -models ../shared/models -list files.txt -out feats.jsonl [-max 2 | -all] [-second aasist-asvspoof5]
//
// Files already present in -out are skipped, so an interrupted run resumes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"voxgate/antispoof"
	"voxgate/audio"
)

type record struct {
	Path    string      `json:"path"`
	Samples int         `json:"samples"`
	Starts  []int       `json:"starts"`
	Emb     [][]float32 `json:"emb"`            // per window: 160 hidden + 2 logits
	Emb2    [][]float32 `json:"emb2,omitempty"` // per window, second checkpoint (-second)
	Spec    [][]float64 `json:"spec"`           // per window
	Err     string      `json:"err,omitempty"`
}

func main() {
	models := flag.String("models", "../shared/models", "models directory")
	list := flag.String("list", "", "file with one audio path per line")
	out := flag.String("out", "", "output JSONL (appended)")
	all := flag.Bool("all", false, "score every window instead of at most -max")
	maxW := flag.Int("max", antispoof.MaxWindows, "most windows per file (as the Detector)")
	names := flag.Bool("names", false, "print the spectral statistics' names as JSON and exit")
	specOnly := flag.Bool("spec", false, "spectral statistics only (no AASIST): for iterating on them")
	detect := flag.Bool("detect", false, "write the shipped Detector's verdicts instead (checks the Go back-end against train.py; with -second, the fusion against fuse.py)")
	second := flag.String("second", "", "also the embedding of the checkpoint in this models subfolder (AASIST.pth, AASIST.conf), e.g. aasist-asvspoof5")
	flag.Parse()
	if *names {
		b, _ := json.Marshal(antispoof.SpecFeatureNames())
		fmt.Printf("%s\n", b)
		return
	}
	m, err := antispoof.Load(filepath.Join(*models, "aasist", "AASIST.pth"), filepath.Join(*models, "aasist", "AASIST.conf"))
	if err != nil {
		log.Fatal(err)
	}
	var m2 *antispoof.Model
	if *second != "" {
		dir := filepath.Join(*models, *second)
		if m2, err = antispoof.Load(filepath.Join(dir, "AASIST.pth"), filepath.Join(dir, "AASIST.conf")); err != nil {
			log.Fatal(err)
		}
	}
	det, err := antispoof.NewDetectorFromModel(m)
	if m2 != nil {
		det, err = antispoof.NewFusedDetector(m, m2)
	}
	if err != nil {
		log.Fatal(err)
	}
	done := map[string]bool{}
	if f, err := os.Open(*out); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var r record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				done[r.Path] = true
			}
		}
		f.Close()
	}
	lf, err := os.ReadFile(*list)
	if err != nil {
		log.Fatal(err)
	}
	w, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	dec := &audio.Decoder{}
	t0 := time.Now()
	n := 0
	for _, p := range strings.Split(strings.TrimSpace(string(lf)), "\n") {
		if p == "" || done[p] {
			continue
		}
		r := record{Path: p}
		data, err := os.ReadFile(p)
		var clip *audio.Clip
		if err == nil {
			clip, err = dec.Decode(context.Background(), data)
		}
		if err != nil {
			r.Err = err.Error()
		} else {
			maxW := *maxW
			if *all {
				maxW = 0
			}
			r.Samples = len(clip.Samples)
			if *detect {
				v, err := det.Detail(context.Background(), clip.Samples)
				if err != nil {
					log.Fatal(err)
				}
				b, _ := json.Marshal(struct {
					Path    string            `json:"path"`
					Verdict antispoof.Verdict `json:"verdict"`
				}{p, v})
				fmt.Fprintf(w, "%s\n", b)
				n++
				continue
			}
			if *specOnly {
				r.Starts, r.Spec = antispoof.WindowSpec(m.Config().Samples, clip.Samples, maxW)
			} else {
				r.Starts, r.Emb, r.Spec = antispoof.WindowInputs(m, clip.Samples, maxW)
				if m2 != nil {
					_, r.Emb2, _ = antispoof.WindowInputs(m2, clip.Samples, maxW)
				}
			}
		}
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		n++
		if n%20 == 0 {
			log.Printf("%d files, %.1fs", n, time.Since(t0).Seconds())
		}
	}
	log.Printf("done: %d files, %.1fs", n, time.Since(t0).Seconds())
}
