package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"voxgate/vad"
)

// LoadVAD loads Silero VAD from a models folder. It prefers
// silero-vad/silero_vad.onnx, whose weights reproduce the upstream reference
// outputs to 1e-5; the silero_vad_16k.safetensors file of the same upstream
// commit holds slightly different weights (see docs/ACCURACY.md) and is the
// fallback. Returns (nil, nil) when dir has neither.
func LoadVAD(dir string) (*vad.Model, error) {
	if dir == "" {
		return nil, nil
	}
	for _, name := range []string{"silero_vad.onnx", "silero_vad_16k.safetensors"} {
		p := filepath.Join(dir, "silero-vad", name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		m, err := vad.Load(p)
		if err != nil {
			return nil, fmt.Errorf("load VAD %s: %w", p, err)
		}
		return m, nil
	}
	return nil, nil
}
