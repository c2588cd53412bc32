//go:build cgo

package phrase

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// DefaultModelDir is where Debian's pocketsphinx-en-us package installs
// the US English model: acoustic model in en-us/, dictionary
// cmudict-en-us.dict, language model en-us.lm.bin.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Options tunes a Recognizer. The zero value is ready to use.
type Options struct {
	// Decoders bounds the concurrent checks: each holds a pair of
	// pocketsphinx decoders. 0 means min(GOMAXPROCS, 4).
	Decoders int
	// Threshold is added to the calibrated decision point: Check reports
	// Match when Score >= Threshold. 0 is the equal-error point of the
	// development sets; raise it to reject more impostor phrases at the
	// cost of more false rejections.
	Threshold float64
	// Transcribe also decodes the audio with the en-us language model to
	// fill Result.Recognized with free text. It is for diagnostics only
	// (the decision never uses it) and costs several times the check.
	Transcribe bool
}

// Result is the outcome of one phrase check.
type Result struct {
	// Score is higher the more likely the prompt was spoken: the
	// log-likelihood ratio, in nats per 10 ms frame of speech, between the prompt
	// forced onto the audio and a free phone loop (and a digit loop for
	// digit prompts), shifted so that 0 is the equal-error point of the
	// development sets. MinScore when the prompt cannot be
	// aligned to the audio at all.
	Score float64
	// Match is Score >= Threshold.
	Match bool
	// Threshold is the decision point used.
	Threshold float64
	// Recognized is what the recogniser heard, for diagnostics: the
	// language-model transcript with Options.Transcribe, else the digit
	// loop's reading for a digit prompt, else the words of the forced
	// alignment (empty when the prompt did not fit).
	Recognized string
	// Normalized is the prompt as words to be spoken.
	Normalized string
	// Confidence maps Score to 0..1, 0.5 at Threshold.
	Confidence float64
	// Unknown lists prompt words missing from the dictionary; each was
	// matched by a free phone loop, so it was not really checked.
	Unknown []string
}

// MinScore is the lowest Score: the prompt could not be aligned to the
// audio at all (silence, or speech far shorter or longer than the prompt).
// Scores are kept finite so that results encode as JSON.
const MinScore = -10.0

// Recognizer checks that a prompt was spoken, with pocketsphinx. It is safe
// for concurrent use: it keeps a bounded pool of decoders (pocketsphinx
// decoders are not thread-safe) and hands one to each Check.
type Recognizer struct {
	modelDir string
	opts     Options
	dict     map[string]bool // words of the pronunciation dictionary

	idle   chan *worker  // workers ready for use
	tokens chan struct{} // one per worker that may still be created
	mu     sync.Mutex    // serialises decoder creation (pocketsphinx logging is global)
	closed chan struct{}
	once   sync.Once
}

// Open loads the model from modelDir ("" means DefaultModelDir) and
// returns a Recognizer. Decoders are created on first use, up to
// Options.Decoders; Open creates one to check the model.
func Open(modelDir string, opts Options) (*Recognizer, error) {
	if modelDir == "" {
		modelDir = DefaultModelDir
	}
	if opts.Decoders <= 0 {
		opts.Decoders = min(runtime.GOMAXPROCS(0), 4)
	}
	dict, err := readDictWords(filepath.Join(modelDir, "cmudict-en-us.dict"))
	if err != nil {
		return nil, err
	}
	r := &Recognizer{
		modelDir: modelDir,
		opts:     opts,
		dict:     dict,
		idle:     make(chan *worker, opts.Decoders),
		tokens:   make(chan struct{}, opts.Decoders),
		closed:   make(chan struct{}),
	}
	for range opts.Decoders {
		r.tokens <- struct{}{}
	}
	<-r.tokens
	w, err := r.newWorker()
	if err != nil {
		return nil, err
	}
	r.idle <- w
	return r, nil
}

// Close frees the decoders. Checks running concurrently finish first;
// later Checks fail.
func (r *Recognizer) Close() error {
	r.once.Do(func() { close(r.closed) })
	for {
		select {
		case d := <-r.idle:
			d.close()
		default:
			return nil
		}
	}
}

// readDictWords reads the words of a CMU-format dictionary ("word PHONES",
// alternates spelled "word(2)").
func readDictWords(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("phrase: pronunciation dictionary: %w (is pocketsphinx-en-us installed?)", err)
	}
	defer f.Close()
	words := make(map[string]bool, 140000)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w, _, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		words[w] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("phrase: reading %s: %w", path, err)
	}
	return words, nil
}

// worker is one slot of the pool: two decoders over the same model. The
// aligner forces prompts onto audio with wide beams: the default beams
// pruned the only path of a spoken prompt on 6 of 180 ravdess takes (long
// leading silence, then fast speech), which then scored as not spoken at
// all. The free decoder runs the phone and digit loops (and the language
// model) with pocketsphinx's default beams, which keep those large
// searches fast. Beams change which paths survive, not how a path is
// scored, so the two decoders' scores compare.
type worker struct {
	align, free *decoder
}

func (w *worker) close() {
	w.align.close()
	w.free.close()
}

// newWorker creates a worker's decoders with the searches every check
// uses: the phone loop, the digit loop and, with Transcribe, the language
// model.
func (r *Recognizer) newWorker() (*worker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	base := []string{
		"-hmm", filepath.Join(r.modelDir, "en-us"),
		"-dict", filepath.Join(r.modelDir, "cmudict-en-us.dict"),
		"-logfn", os.DevNull,
		// Score every senone in every frame. Pocketsphinx normalises
		// acoustic scores per frame by the best senone it computed; with
		// only the active ones computed, a search whose few live states
		// are silence scores speech as well as silence, and scores of
		// different searches cannot be compared. Measured: asterisk EER
		// 0.058 -> 0.017 (docs/ACCURACY.md).
		"-compallsen", "yes",
		// No spectral noise subtraction and no silence dropping: both
		// keep estimates across utterances, which made a check depend on
		// what the decoder heard before (a shouted take made the next
		// speaker's correct prompt fail to align).
		"-remove_noise", "no",
		"-remove_silence", "no",
	}
	align, err := newDecoder(append(base[:len(base):len(base)], "-beam", "1e-80", "-pbeam", "1e-80", "-wbeam", "1e-60"))
	if err != nil {
		return nil, err
	}
	free, err := newDecoder(base)
	if err != nil {
		align.close()
		return nil, err
	}
	w := &worker{align: align, free: free}
	if err := r.setSearches(w); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// setSearches adds the phone words to both decoders (the aligner needs
// them for out-of-vocabulary runs) and the free searches to w.free.
func (r *Recognizer) setSearches(w *worker) error {
	// The phone words go in before any language model is set, so that
	// they never become n-gram words (ps_add_word adds to n-gram searches).
	for _, d := range []*decoder{w.align, w.free} {
		for _, p := range ciPhones {
			if err := d.addWord(phoneWord(p), p); err != nil {
				return err
			}
		}
	}
	if err := w.free.setGrammar(searchPhones, phoneLoop()); err != nil {
		return err
	}
	if err := w.free.setGrammar(searchDigits, digitLoop()); err != nil {
		return err
	}
	if r.opts.Transcribe {
		return w.free.setLM(searchLM, filepath.Join(r.modelDir, "en-us.lm.bin"))
	}
	return nil
}

// Names of the searches a decoder holds.
const (
	searchPrompt = "prompt"
	searchPhones = "phones"
	searchDigits = "digits"
	searchLM     = "lm"
)

var errClosed = errors.New("phrase: recognizer closed")

// acquire takes an idle worker, creates one if the pool is not full, or
// waits for one.
func (r *Recognizer) acquire(ctx context.Context) (*worker, error) {
	select {
	case <-r.closed:
		return nil, errClosed
	case d := <-r.idle:
		return d, nil
	default:
	}
	select {
	case <-r.closed:
		return nil, errClosed
	case d := <-r.idle:
		return d, nil
	case <-r.tokens:
		w, err := r.newWorker()
		if err != nil {
			r.tokens <- struct{}{}
			return nil, err
		}
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release returns d to the pool, or frees it once the Recognizer is closed.
func (r *Recognizer) release(d *worker) {
	select {
	case <-r.closed:
		d.close()
		return
	default:
	}
	r.idle <- d
	select {
	case <-r.closed:
		// Close ran meanwhile and may have drained the pool before d
		// arrived: drain again.
		r.Close()
	default:
	}
}

// Speakable reports whether the recogniser can check prompt: nil if every
// word of it (after Normalize) is in the pronunciation dictionary, else an
// error naming the missing words. Tenants' passphrases must be speakable.
func (r *Recognizer) Speakable(prompt string) error {
	ss := slots(prompt, isDigitPrompt(prompt))
	if len(ss) == 0 {
		return errors.New("phrase: prompt has no words to speak")
	}
	_, oov := grammarFor(ss, r.inDict)
	if len(oov) > 0 {
		return fmt.Errorf("phrase: not in the recogniser's dictionary: %s", strings.Join(oov, ", "))
	}
	return nil
}

func (r *Recognizer) inDict(w string) bool { return r.dict[w] }

// isDigitPrompt reports whether prompt is a digit string ("4 7 1 9",
// "4719", "47-19"), whose digits are read one by one.
func isDigitPrompt(prompt string) bool {
	n := 0
	for _, c := range prompt {
		switch {
		case c >= '0' && c <= '9':
			n++
		case c == ' ' || c == '-' || c == '\t':
		default:
			return false
		}
	}
	return n > 0
}

// Check reports whether prompt was spoken in samples: 16 kHz mono audio
// in [-1, 1]. sourceRate is the rate the audio was recorded at (8000 for
// telephone audio; 0 if unknown, taken as wideband): narrowband audio is
// decoded with the same 16 kHz model (an 8 kHz front end with -upperf 3500
// measured worse: most alignments failed) and calibrated by bandwidth
// (today both bandwidths share one offset, see score.go).
//
// Check returns an error only when it cannot decide: an empty prompt, a
// closed Recognizer, a cancelled ctx, or a pocketsphinx failure.
// Silence, noise or another sentence give a low Score and Match false.
func (r *Recognizer) Check(ctx context.Context, samples []float32, sourceRate int, prompt string) (Result, error) {
	digits := isDigitPrompt(prompt)
	ss := slots(prompt, digits)
	res := Result{Normalized: Normalize(prompt, digits), Threshold: r.opts.Threshold}
	if len(ss) == 0 {
		return res, errors.New("phrase: prompt has no words to speak")
	}
	grammar, oov := grammarFor(ss, r.inDict)
	res.Unknown = oov
	if err := ctx.Err(); err != nil {
		return res, err
	}
	pcm := toPCM(samples)

	d, err := r.acquire(ctx)
	if err != nil {
		return res, err
	}
	defer r.release(d)

	if err := d.align.setGrammar(searchPrompt, grammar); err != nil {
		return res, err
	}
	align, err := d.align.decode(searchPrompt, pcm)
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	phones, err := d.free.decode(searchPhones, pcm)
	if err != nil {
		return res, err
	}
	competitors := []hypothesis{phones}
	var digitsHyp hypothesis
	if digits || allDigitWords(ss) {
		// A digit string is checked against the digit loop too: it is the
		// stronger competitor where one digit was swapped for another.
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if digitsHyp, err = d.free.decode(searchDigits, pcm); err != nil {
			return res, err
		}
		competitors = append(competitors, digitsHyp)
	}

	res.Score = max(MinScore, calibrate(llr(align, competitors...), sourceRate))
	res.Match = res.Score >= res.Threshold
	res.Confidence = 1 / (1 + math.Exp(-(res.Score-res.Threshold)/confidenceScale))
	switch {
	case r.opts.Transcribe:
		if err := ctx.Err(); err != nil {
			return res, err
		}
		lm, err := d.free.decode(searchLM, pcm)
		if err != nil {
			return res, err
		}
		res.Recognized = lm.Text
	case digits:
		res.Recognized = strings.Join(digitsHyp.words(), " ")
	default:
		res.Recognized = strings.Join(align.words(), " ")
	}
	return res, nil
}

// allDigitWords reports whether every slot reads as digit words only.
func allDigitWords(ss []slot) bool {
	for _, s := range ss {
		for _, a := range s {
			for _, w := range a {
				if !slices.Contains(digitWords, w) {
					return false
				}
			}
		}
	}
	return true
}

// toPCM converts samples in [-1, 1] to 16-bit PCM, clipping outliers.
func toPCM(samples []float32) []int16 {
	pcm := make([]int16, len(samples))
	for i, s := range samples {
		v := math.Round(float64(s) * 32767)
		pcm[i] = int16(max(-32768, min(32767, v)))
	}
	return pcm
}
