// Package weights knows the pretrained weight files voxgate can load, where
// each comes from upstream, and its SHA-256. Pull fills a models folder from
// those URLs (or a mirror of them), checking every byte; Verify checks a
// folder someone filled by hand. Weights are never part of the repository.
package weights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// File is one weight or config file of the manifest.
type File struct {
	// Path is where the file lives inside a models folder.
	Path string
	// URL is the upstream address, pinned to a commit.
	URL    string
	SHA256 string
	Size   int64
	// License names the upstream licence.
	License string
}

const (
	sileroBase = "https://raw.githubusercontent.com/snakers4/silero-vad/806dcba3f0b5d95282d0889a074954a2f8c6397b"
	aasistBase = "https://raw.githubusercontent.com/clovaai/aasist/a04c9863f63d44471dde8a6abcb3b082b07cd1d1"
	// asvspoof5Base is the ASVspoof 5 challenge's baseline: the same AASIST
	// architecture trained on ASVspoof 5 (antispoof fuses it with the first).
	asvspoof5Base = "https://raw.githubusercontent.com/asvspoof-challenge/asvspoof5/fe23d3053a0889b305d98c9e4cadf418c213d972/Baseline-AASIST"
	// thinresnetBase is a VoxCeleb-trained ThinResNet speaker embedder for the MAX78000
	// accelerator, published only as the C that ai8x-synthesis generated for the chip:
	// package speaker/thinresnet decodes weights.h and cnn.c as they are, and reproduces
	// the known answer sampledata.h -> sampleoutput.h.
	thinresnetBase = "https://raw.githubusercontent.com/nyangmeong/max78000-speaker-verification/2942b615d440e64538737dcfdbdc8353478284b4"
)

// Manifest returns the files voxgate knows, pinned by commit and hash.
func Manifest() []File {
	return []File{
		{"silero-vad/silero_vad.onnx", sileroBase + "/src/silero_vad/data/silero_vad.onnx",
			"1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", 2327524, "MIT"},
		{"silero-vad/silero_vad_16k.safetensors", sileroBase + "/src/silero_vad/data/silero_vad_16k.safetensors",
			"c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1", 1239748, "MIT"},
		{"silero-vad/LICENSE", sileroBase + "/LICENSE",
			"2e63e9a38b6e8fc0c7bc37ce174caca1862870856c6daf5697cfb785e925520b", 1075, "MIT"},
		{"aasist/AASIST.pth", aasistBase + "/models/weights/AASIST.pth",
			"51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0", 1281532, "MIT"},
		{"aasist/AASIST.conf", aasistBase + "/config/AASIST.conf",
			"c25023331685027cce90e1b9a0d2df10aa04b2a27d9b27d5afa36e6815b0fe76", 997, "MIT"},
		{"aasist/AASIST-L.pth", aasistBase + "/models/weights/AASIST-L.pth",
			"814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a", 426428, "MIT"},
		{"aasist/AASIST-L.conf", aasistBase + "/config/AASIST-L.conf",
			"9e2e2610b2260b421bf2083646dde4747a6a5cdd138015066d83bc61b6b214cf", 999, "MIT"},
		{"aasist/LICENSE", aasistBase + "/LICENSE",
			"da2e79b8592d166ef505224300968b80ebe1e4c217c43b94a5ec627d81cd4142", 1064, "MIT"},
		{"aasist-asvspoof5/AASIST.pth", asvspoof5Base + "/models/weights/AASIST/best.pth",
			"8f10fe1d1ce3ac62c19f00b86dfaf79f86f464301d23e08726b16b02edbb601c", 1275639, "MIT"},
		{"aasist-asvspoof5/AASIST.conf", asvspoof5Base + "/config/AASIST_ASVspoof5.conf",
			"b9556f787ce28dc2929b20625a2c7a1a68e7cfa66460f1377d318efc01cb00a3", 978, "MIT"},
		// The baseline is clovaai's AASIST code under its MIT licence (NAVER);
		// its text is byte for byte aasist/LICENSE, fetched from there.
		{"aasist-asvspoof5/LICENSE", aasistBase + "/LICENSE",
			"da2e79b8592d166ef505224300968b80ebe1e4c217c43b94a5ec627d81cd4142", 1064, "MIT"},
	}
}

// Optional returns files voxgate can use but does not need to serve: Pull fetches them
// when it can and goes on without them when it cannot (a wrong download is still an
// error), and Verify checks the ones present. The MAX78000 ThinResNet (package
// speaker/thinresnet) is here until the speaker model uses it.
func Optional() []File {
	return []File{
		{"thinresnet-max78000/weights.h", thinresnetBase + "/synthesis/voxsv/weights.h",
			"20ca7c2f0871f2783d2c2469174fe045fbd04a078310cae5f4e709893904578d", 1017908, "MIT"},
		{"thinresnet-max78000/cnn.c", thinresnetBase + "/synthesis/voxsv/cnn.c",
			"71430c153b27672382a248b2913204127d10768fbffaadc36cc351f5f5dfa035", 73180, "MIT"},
		{"thinresnet-max78000/sampledata.h", thinresnetBase + "/synthesis/voxsv/sampledata.h",
			"fcaab3f45af4e870a4acd401b3b8a1d4abcd4c9829be5f4858a75cc475b69467", 32071, "MIT"},
		{"thinresnet-max78000/sampleoutput.h", thinresnetBase + "/synthesis/voxsv/sampleoutput.h",
			"f8c971f019b49e61fb62ce46e934466e7a448330edd368c20b0624d94507254b", 886, "MIT"},
		{"thinresnet-max78000/LICENSE", thinresnetBase + "/LICENSE",
			"07d575347a11992d828afd9478143adc640d0542bb7f26b8a9f33d6602618d6b", 1066, "MIT"},
	}
}

// ErrChecksum reports a file whose bytes do not match the manifest.
var ErrChecksum = errors.New("models: checksum mismatch")

// Puller downloads the manifest into a folder.
type Puller struct {
	Client *http.Client
	// Mirror, when set, replaces "https://raw.githubusercontent.com" in
	// every URL, for sites that proxy or mirror upstream.
	Mirror string
	// Log receives one line per file; nil is silent.
	Log io.Writer
	// From lists folders that may hold copies of the files (such as
	// ../shared/models): a copy with the right hash is taken from there
	// instead of the network, so that a machine without network access
	// can still fill the folder.
	From []string
}

// Pull makes dir hold every manifest file with the right hash, and every optional file
// it can get (see Optional). Files already
// right are kept; others are copied from a From folder that has them right,
// or else downloaded; either way through a temporary file beside the
// target, checked, and renamed into place, so that a failed or tampered
// download never leaves a wrong file under the real name. A download that
// fails says how to get the files without network.
func (p *Puller) Pull(ctx context.Context, dir string) error {
	for _, f := range Manifest() {
		if err := p.pullOne(ctx, dir, f); err != nil {
			if errors.Is(err, ErrChecksum) {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			return fmt.Errorf("%s: %w\ncould not download it (no network?): copy the model files into %s by hand (`voxgate models verify` checks them), or pull --from a folder that has them, or --mirror a reachable copy", f.Path, err, dir)
		}
	}
	for _, f := range Optional() {
		if err := p.pullOne(ctx, dir, f); err != nil {
			if errors.Is(err, ErrChecksum) {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			p.logf("skipped   %s (optional; %v)", f.Path, err)
		}
	}
	return nil
}

// pullOne makes dir hold f: kept when right, else copied from a From folder, else fetched.
func (p *Puller) pullOne(ctx context.Context, dir string, f File) error {
	target := filepath.Join(dir, filepath.FromSlash(f.Path))
	if err := checkFile(target, f); err == nil {
		p.logf("ok        %s", f.Path)
		return nil
	}
	if from, ok := p.copyLocal(f, target); ok {
		p.logf("copied    %s from %s (sha256 ok)", f.Path, from)
		return nil
	}
	if err := p.fetch(ctx, f, target); err != nil {
		return err
	}
	p.logf("fetched   %s (%d bytes, sha256 ok)", f.Path, f.Size)
	return nil
}

// copyLocal copies f from the first From folder holding it with the right
// hash, through a temporary file renamed into place.
func (p *Puller) copyLocal(f File, target string) (string, bool) {
	for _, dir := range p.From {
		src := filepath.Join(dir, filepath.FromSlash(f.Path))
		if checkFile(src, f) != nil {
			continue
		}
		in, err := os.Open(src)
		if err != nil {
			continue
		}
		err = writeChecked(in, f, target)
		in.Close()
		if err == nil {
			return dir, true
		}
	}
	return "", false
}

func (p *Puller) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}

func (p *Puller) url(f File) string {
	if p.Mirror == "" {
		return f.URL
	}
	return strings.TrimSuffix(p.Mirror, "/") + strings.TrimPrefix(f.URL, "https://raw.githubusercontent.com")
}

func (p *Puller) fetch(ctx context.Context, f File, target string) error {
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url(f), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", p.url(f), resp.Status)
	}
	return writeChecked(resp.Body, f, target)
}

// writeChecked writes r to target through a temporary file beside it,
// renamed into place only when its size and SHA-256 match f.
func writeChecked(r io.Reader, f File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".pull-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	// Read one byte past the declared size to notice an oversize answer
	// without reading an unbounded body.
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, f.Size+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: got %d bytes with sha256 %x, want %d bytes with %s", ErrChecksum, n, h.Sum(nil), f.Size, f.SHA256)
	}
	return os.Rename(tmp.Name(), target)
}

// checkFile returns nil when path holds exactly f's bytes.
func checkFile(path string, f File) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(file, f.Size+1))
	if err != nil {
		return err
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: %s", ErrChecksum, path)
	}
	return nil
}

// Verify checks every manifest file in dir, and every optional file present, and returns
// one error per file that is missing or wrong.
func Verify(dir string) []error {
	var errs []error
	for _, f := range Manifest() {
		if err := checkFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	for _, f := range Optional() {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := checkFile(path, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	return errs
}
