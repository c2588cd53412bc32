package speaker

import (
	"fmt"
	"strconv"

	"voxgate/safetensors"
)

// modelFile wraps a parsed safetensors model file: tensors named as in
// train/speaker/train.py and string metadata.
type modelFile struct {
	f    *safetensors.File
	meta map[string]string
}

// metaInt returns the integer metadata entry k.
func (f *modelFile) metaInt(k string) (int, error) {
	v, err := strconv.Atoi(f.meta[k])
	if err != nil {
		return 0, fmt.Errorf("speaker: metadata %s=%q: %v", k, f.meta[k], err)
	}
	return v, nil
}

// metaFloat returns the number in metadata entry k.
func (f *modelFile) metaFloat(k string) (float64, error) {
	v, err := strconv.ParseFloat(f.meta[k], 64)
	if err != nil {
		return 0, fmt.Errorf("speaker: metadata %s=%q: %v", k, f.meta[k], err)
	}
	return v, nil
}

func parseModelFile(b []byte) (*modelFile, error) {
	f, err := safetensors.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("speaker: model file: %w", err)
	}
	return &modelFile{f: f, meta: f.Metadata()}, nil
}

// get returns tensor name, checking its shape against want (-1 matches any).
func (f *modelFile) get(name string, want ...int) ([]float32, []int, error) {
	t, err := f.f.Tensor(name)
	if err != nil {
		return nil, nil, fmt.Errorf("speaker: %w", err)
	}
	if len(t.Shape) != len(want) {
		return nil, nil, fmt.Errorf("speaker: tensor %s has shape %v, want rank %d", name, t.Shape, len(want))
	}
	for i, w := range want {
		if w >= 0 && t.Shape[i] != w {
			return nil, nil, fmt.Errorf("speaker: tensor %s has shape %v, want %v", name, t.Shape, want)
		}
	}
	return t.Data, t.Shape, nil
}
