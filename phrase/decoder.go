//go:build cgo

package phrase

// #cgo pkg-config: pocketsphinx sphinxbase
// #include <stdlib.h>
// #include <pocketsphinx.h>
// #include <sphinxbase/err.h>
// #include <sphinxbase/ckd_alloc.h>
//
// static char **vox_argv(int n) { return (char **)calloc(n, sizeof(char *)); }
// static void vox_argv_set(char **a, int i, char *s) { a[i] = s; }
// static void vox_argv_free(char **a, int n) {
//     for (int i = 0; i < n; i++) free(a[i]);
//     free(a);
// }
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// decoder owns one pocketsphinx decoder. It is not safe for concurrent use:
// the Recognizer hands each one to a single goroutine at a time.
type decoder struct {
	ps *C.ps_decoder_t
	// searches holds the names of the searches set on ps.
	searches map[string]bool
}

// newDecoder initialises pocketsphinx with args, a flat list of "-name",
// "value" pairs as on its command line.
func newDecoder(args []string) (*decoder, error) {
	n := len(args) + 1
	argv := C.vox_argv(C.int(n))
	C.vox_argv_set(argv, 0, C.CString("voxgate"))
	for i, a := range args {
		C.vox_argv_set(argv, C.int(i+1), C.CString(a))
	}
	defer C.vox_argv_free(argv, C.int(n))
	cfg := C.cmd_ln_parse_r(nil, C.ps_args(), C.int32(n), argv, C.int32(1))
	if cfg == nil {
		return nil, fmt.Errorf("phrase: pocketsphinx rejected its configuration %q", args)
	}
	ps := C.ps_init(cfg)
	C.cmd_ln_free_r(cfg) // ps_init retains its own reference
	if ps == nil {
		return nil, errors.New("phrase: pocketsphinx failed to initialise (model directory complete?)")
	}
	return &decoder{ps: ps, searches: map[string]bool{}}, nil
}

// close frees the decoder.
func (d *decoder) close() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
}

// lookup returns the pronunciation of word ("K IH D Z"), or "" if the
// dictionary lacks it.
func (d *decoder) lookup(word string) string {
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	p := C.ps_lookup_word(d.ps, cw)
	if p == nil {
		return ""
	}
	defer C.ckd_free(unsafe.Pointer(p))
	return C.GoString(p)
}

// addWord adds word with the given phones to the dictionary. It also adds
// the word to every n-gram search already set, so call it before setLM.
func (d *decoder) addWord(word, phones string) error {
	cw, cp := C.CString(word), C.CString(phones)
	defer C.free(unsafe.Pointer(cw))
	defer C.free(unsafe.Pointer(cp))
	if C.ps_add_word(d.ps, cw, cp, 0) < 0 {
		return fmt.Errorf("phrase: cannot add %q /%s/ to the dictionary", word, phones)
	}
	return nil
}

// setLM loads an n-gram language model file as search name.
func (d *decoder) setLM(name, path string) error {
	cn, cp := C.CString(name), C.CString(path)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cp))
	if C.ps_set_lm_file(d.ps, cn, cp) < 0 {
		return fmt.Errorf("phrase: cannot load language model %s", path)
	}
	d.searches[name] = true
	return nil
}

// setGrammar compiles a JSGF grammar as search name, replacing any search
// of that name. Every word in it must be in the dictionary.
func (d *decoder) setGrammar(name, jsgf string) error {
	cn, cg := C.CString(name), C.CString(jsgf)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cg))
	if C.ps_set_jsgf_string(d.ps, cn, cg) < 0 {
		return fmt.Errorf("phrase: pocketsphinx rejected grammar %q", jsgf)
	}
	d.searches[name] = true
	return nil
}

// decode runs search name over pcm (16-bit samples at the decoder's
// sample rate) as one utterance and returns its best path.
func (d *decoder) decode(name string, pcm []int16) (hypothesis, error) {
	if !d.searches[name] {
		return hypothesis{}, fmt.Errorf("phrase: no search %q", name)
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.ps_set_search(d.ps, cn) < 0 {
		return hypothesis{}, fmt.Errorf("phrase: cannot select search %q", name)
	}
	if C.ps_start_utt(d.ps) < 0 {
		return hypothesis{}, errors.New("phrase: cannot start utterance")
	}
	if len(pcm) > 0 {
		if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 1) < 0 {
			C.ps_end_utt(d.ps)
			return hypothesis{}, errors.New("phrase: pocketsphinx failed to process audio")
		}
	}
	if C.ps_end_utt(d.ps) < 0 {
		return hypothesis{}, errors.New("phrase: cannot end utterance")
	}
	var h hypothesis
	h.Frames = int(C.ps_get_n_frames(d.ps))
	var score C.int32
	if hyp := C.ps_get_hyp(d.ps, &score); hyp != nil {
		h.Text = C.GoString(hyp)
		h.Score = int32(score)
	} else {
		h.Score = noPath
	}
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		var sf, ef C.int
		var ascr, lscr, lback C.int32
		C.ps_seg_frames(it, &sf, &ef)
		C.ps_seg_prob(it, &ascr, &lscr, &lback)
		h.Segs = append(h.Segs, segment{
			Word:     C.GoString(C.ps_seg_word(it)),
			Start:    int(sf),
			End:      int(ef),
			Acoustic: int32(ascr),
			Language: int32(lscr),
		})
	}
	h.Text = cleanHypothesis(h.Text)
	return h, nil
}
