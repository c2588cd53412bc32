//go:build cgo

package phrase

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"voxgate/audio"
)

// Eval is the accuracy and speed of a Recognizer on one phrase set.
type Eval struct {
	// EER is the equal error rate over the set's trials and EERThreshold
	// the Score at which it is reached.
	EER          float64 `json:"eer"`
	EERThreshold float64 `json:"eer_threshold"`
	// FRR and FAR are the false rejection and acceptance rates at
	// Threshold, the Recognizer's own decision point.
	FRR       float64 `json:"frr"`
	FAR       float64 `json:"far"`
	Threshold float64 `json:"threshold"`
	// Match and Mismatch count the trials of each label.
	Match    int `json:"match"`
	Mismatch int `json:"mismatch"`
	// AudioSeconds is the audio checked (each row counts once) and
	// CheckSeconds the time spent in Check, summed over rows.
	AudioSeconds float64 `json:"audio_seconds"`
	CheckSeconds float64 `json:"check_seconds"`
	// Trials holds every row's result, in file order.
	Trials []Trial `json:"-"`
}

// MillisPerSecond is the mean Check time per second of audio.
func (e Eval) MillisPerSecond() float64 {
	if e.AudioSeconds == 0 {
		return 0
	}
	return 1000 * e.CheckSeconds / e.AudioSeconds
}

// Trial is one row of a phrase set and its outcome.
type Trial struct {
	Path   string  // audio file, absolute or relative to the working directory
	Prompt string  // prompt checked
	Match  bool    // label: true if the prompt was spoken
	Result Result  // outcome of Check
	Took   float64 // seconds spent in Check
	Audio  float64 // seconds of audio
}

// EvalSet checks every row of a phrases.csv (header path,prompt,label;
// label match or mismatch; paths relative to the CSV's folder) with r and
// returns the error rates. Rows run concurrently, as many as r has
// decoders; audio is decoded with package audio.
func EvalSet(ctx context.Context, r *Recognizer, csvPath string) (Eval, error) {
	rows, err := readPhraseSet(csvPath)
	if err != nil {
		return Eval{}, err
	}
	trials := make([]Trial, len(rows))
	dec := &audio.Decoder{}
	work := make(chan int)
	errs := make(chan error, r.opts.Decoders)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range r.opts.Decoders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t := &trials[i]
				*t = rows[i]
				data, err := os.ReadFile(t.Path)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				clip, err := dec.Decode(ctx, data)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", t.Path, err)
					cancel()
					return
				}
				start := time.Now()
				t.Result, err = r.Check(ctx, clip.Samples, clip.SourceRate, t.Prompt)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", t.Path, err)
					cancel()
					return
				}
				t.Took = time.Since(start).Seconds()
				t.Audio = float64(len(clip.Samples)) / 16000
			}
		}()
	}
feed:
	for i := range rows {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Eval{}, err
	}
	if err := ctx.Err(); err != nil {
		return Eval{}, err
	}
	return summarize(trials, r.opts.Threshold), nil
}

// summarize computes the rates of an evaluated set.
func summarize(trials []Trial, threshold float64) Eval {
	e := Eval{Trials: trials, Threshold: threshold}
	scores := make([]float64, len(trials))
	labels := make([]bool, len(trials))
	for i, t := range trials {
		scores[i], labels[i] = t.Result.Score, t.Match
		if t.Match {
			e.Match++
		} else {
			e.Mismatch++
		}
		e.AudioSeconds += t.Audio
		e.CheckSeconds += t.Took
	}
	e.EER, e.EERThreshold = EER(scores, labels)
	e.FRR, e.FAR = Rates(scores, labels, threshold)
	return e
}

// readPhraseSet reads a phrases.csv into trials without results.
func readPhraseSet(csvPath string) ([]Trial, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("phrase: %s: %w", csvPath, err)
	}
	if len(head) < 3 || head[0] != "path" || head[1] != "prompt" || head[2] != "label" {
		return nil, fmt.Errorf("phrase: %s: header %q, want path,prompt,label", csvPath, head)
	}
	dir := filepath.Dir(csvPath)
	var trials []Trial
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("phrase: %s: %w", csvPath, err)
		}
		var match bool
		switch rec[2] {
		case "match":
			match = true
		case "mismatch":
		default:
			return nil, fmt.Errorf("phrase: %s: label %q, want match or mismatch", csvPath, rec[2])
		}
		p := rec[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		trials = append(trials, Trial{Path: p, Prompt: rec[1], Match: match})
	}
	return trials, nil
}
