package speaker

import (
	"fmt"

	"voxgate/safetensors"
)

// modelFile wraps a parsed safetensors model file: tensors named as in
// train/speaker/train.py and string metadata.
type modelFile struct {
	f    *safetensors.File
	meta map[string]string
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
