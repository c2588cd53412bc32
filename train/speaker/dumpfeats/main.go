// Command dumpfeats decodes the train-pool recordings with sox, once as they
// are and once through a simulated narrowband telephone channel (8 kHz
// mu-law, 250-3500 Hz band-pass, back to 16 kHz), and writes their log-mel
// features (package features, DefaultConfig) and energy-VAD masks for
// train/speaker/train.py.
//
//	go run ./train/speaker/dumpfeats -speakers ../shared/voice-data/sets/train-pool/speakers.csv -out /tmp/spkfeats
//
// Each output file is: uint32 frames, uint32 mel bands (little endian), then
// frames*bands float32 log-mel values, then one byte (0/1) of speech mask per
// frame. list.tsv in the output folder names speaker, corpus, licence,
// feature file and source recording per line. -speakers takes any CSV of
// path,speaker,corpus,license rows (paths relative to the CSV's folder, or
// absolute), so other corpora (speechocean762) and the dev sets' files go
// through the same front end; -channels limits the variants written.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"voxgate/features"
)

func main() {
	speakers := flag.String("speakers", "../shared/voice-data/sets/train-pool/speakers.csv", "train-pool speakers.csv")
	out := flag.String("out", "", "output folder")
	only := flag.String("channels", "", "comma-separated channel suffixes to write (default: all of clean,nb,up,down)")
	flag.Parse()
	if *out == "" {
		log.Fatal("dumpfeats: -out is required")
	}
	if err := run(*speakers, *out, pick(*only)); err != nil {
		log.Fatal(err)
	}
}

// channels names each augmentation by its file suffix: "" is the recording
// as it is, "narrowband" the telephone channel, anything else a sox effects
// chain applied after decoding. The pitch and spectral-tilt variants stand in
// for the within-speaker variation of emotional and effortful speech, which
// train-pool (one calm recording per speaker) lacks.
type channel struct{ suffix, chain string }

var channels = []channel{
	{"clean", ""},
	{"nb", "narrowband"},
	{"up", "gain -6 pitch 250 treble 5"},
	{"down", "gain -3 pitch -150 treble -4"},
}

// pick returns the channels named in the comma-separated list only (all
// when it is empty).
func pick(only string) []channel {
	if only == "" {
		return channels
	}
	var out []channel
	for _, ch := range channels {
		for _, name := range strings.Split(only, ",") {
			if name == ch.suffix {
				out = append(out, ch)
			}
		}
	}
	return out
}

func run(speakersCSV, out string, chans []channel) error {
	f, err := os.Open(speakersCSV)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	fe, err := features.New(features.DefaultConfig)
	if err != nil {
		return err
	}
	var list bytes.Buffer
	dir := filepath.Dir(speakersCSV)
	for i, r := range recs[1:] { // path,speaker,corpus,license
		src := r[0]
		if !filepath.IsAbs(src) {
			src = filepath.Join(dir, src)
		}
		for _, ch := range chans {
			name := fmt.Sprintf("%04d-%s.bin", i, ch.suffix)
			dst := filepath.Join(out, name)
			fmt.Fprintf(&list, "%s\t%s\t%s\t%s\t%s\n", r[1], r[2], r[3], name, src)
			if _, err := os.Stat(dst); err == nil {
				continue
			}
			x, err := decode(src, ch.chain)
			if err != nil {
				return err
			}
			if err := write(dst, fe, x); err != nil {
				return err
			}
		}
		if i%100 == 0 {
			log.Printf("%d/%d", i, len(recs)-1)
		}
	}
	return os.WriteFile(filepath.Join(out, "list.tsv"), list.Bytes(), 0o644)
}

// decode returns 16 kHz mono float32 samples of path passed through chain.
func decode(path, chain string) ([]float32, error) {
	toF32 := []string{"-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", "16000", "-"}
	var cmd *exec.Cmd
	switch chain {
	case "narrowband":
		cmd = exec.Command("sh", "-c", `sox "$1" -t wav -r 8000 -e mu-law - sinc 250-3500 | sox -t wav - -t raw -e floating-point -b 32 -c 1 -r 16000 -`, "sh", path)
	default:
		cmd = exec.Command("sox", append(append([]string{path}, toF32...), strings.Fields(chain)...)...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dumpfeats: sox %s: %v: %s", path, err, stderr.String())
	}
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x, nil
}

func write(dst string, fe *features.Frontend, x []float32) error {
	lm, en := fe.LogMel(nil, nil, x)
	mask := features.EnergyVAD(nil, en)
	nm := fe.Config().NumMels
	buf := make([]byte, 8+4*len(lm)+len(mask))
	binary.LittleEndian.PutUint32(buf, uint32(len(en)))
	binary.LittleEndian.PutUint32(buf[4:], uint32(nm))
	for i, v := range lm {
		binary.LittleEndian.PutUint32(buf[8+4*i:], math.Float32bits(v))
	}
	for i, m := range mask {
		if m {
			buf[8+4*len(lm)+i] = 1
		}
	}
	if err := os.WriteFile(dst+".tmp", buf, 0o644); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}
