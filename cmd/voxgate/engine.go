package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"voxgate/antispoof"
	"voxgate/audio"
	"voxgate/engine"
	"voxgate/httpapi"
	"voxgate/phrase"
	"voxgate/seal"
)

// engineBundle is the engine with a note of what was loaded, for logs and
// readiness.
type engineBundle struct {
	*engine.Engine
	loaded []string
	// models is the folder the optional models came from ("" when none).
	models string
}

// readiness returns one /readyz check per engine component. A model a
// verdict depends on (Silero VAD, the deepfake detector) that is not
// loaded makes the server not ready, unless the operator started it with
// --degraded: then the check reports the degradation without failing.
func (b engineBundle) readiness(degraded bool) map[string]func(context.Context) error {
	missing := func(what string) func(context.Context) error {
		where := fmt.Sprintf("models folder %q", b.models)
		if b.models == "" {
			where = "any models folder (none found: ./models, ../shared/models)"
		}
		err := fmt.Errorf("%s not loaded from %s: run `voxgate models pull`, or serve with --degraded to accept verdicts without it", what, where)
		if degraded {
			err = httpapi.Degraded(fmt.Errorf("%s not loaded; serving with --degraded: verdicts say the check did not run", what))
		}
		return func(context.Context) error { return err }
	}
	ok := func(context.Context) error { return nil }
	checks := map[string]func(context.Context) error{"speaker": ok, "vad": ok, "antispoof": ok, "phrase": ok}
	if b.VAD == nil {
		checks["vad"] = missing("Silero VAD")
	}
	if b.Spoof == nil {
		checks["antispoof"] = missing("the deepfake detector (AASIST)")
	}
	if b.Phrase == nil {
		checks["phrase"] = func(context.Context) error {
			return fmt.Errorf("no speech recogniser: install Debian pocketsphinx-en-us")
		}
	}
	return checks
}

// buildEngine loads every model the models folder offers. The speaker model
// ships inside the binary; the VAD, anti-spoofing and phrase models are
// optional and the engine degrades, saying so, without them.
func buildEngine(modelsDir string, targetFAR float64, log *slog.Logger) (engineBundle, error) {
	vadModel, err := engine.LoadVAD(modelsDir)
	if err != nil {
		return engineBundle{}, err
	}
	eng, err := engine.New(engine.Analyzer{Decoder: &audio.Decoder{}, VAD: vadModel}, targetFAR)
	if err != nil {
		return engineBundle{}, err
	}
	b := engineBundle{Engine: eng, loaded: []string{"speaker " + eng.Speaker.Version()}, models: modelsDir}
	if vadModel != nil {
		b.loaded = append(b.loaded, "silero-vad")
	} else {
		log.Warn("no Silero VAD in the models folder: using the energy detector (run `voxgate models pull`)", "models", modelsDir)
	}
	if modelsDir != "" {
		if d, err := antispoof.NewDetector(modelsDir); err != nil {
			log.Warn("no anti-spoofing model: synthetic speech is not detected (run `voxgate models pull`)", "err", err)
		} else {
			if w := d.Warning(); w != "" {
				log.Warn(w, "models", modelsDir)
			}
			eng.Spoof = d
			b.loaded = append(b.loaded, d.Name())
		}
	}
	if r, err := phrase.Open("", phrase.Options{}); err != nil {
		log.Warn("no speech recogniser: phrase checks and challenges are unavailable", "err", err)
	} else {
		eng.Phrase = r
		b.loaded = append(b.loaded, "pocketsphinx")
	}
	return b, nil
}

func (b engineBundle) String() string { return strings.Join(b.loaded, ", ") }

func newSealer(key []byte) (*seal.Sealer, error) { return seal.New(key) }

// progress draws a progress bar on stderr when stderr is a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	n, of int
	tty   bool
}

func newProgress(w io.Writer, name string, of int) *progress {
	p := &progress{w: w, name: name, of: of}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) add(k int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += k
	if p.n%10 != 0 && p.n != p.of {
		return
	}
	const width = 30
	fill := width * p.n / max(1, p.of)
	fmt.Fprintf(p.w, "\r%-16s [%s%s] %3d%% %d/%d", p.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*p.n/max(1, p.of), p.n, p.of)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
