package antispoof_test

import (
	"fmt"
	"log"

	"voxgate/antispoof"
)

// Score a recording with the authors' AASIST checkpoint. samples is 16 kHz
// mono audio in [-1, 1], from any decoder.
func Example() {
	m, err := antispoof.Load("models/aasist/AASIST.pth", "models/aasist/AASIST.conf")
	if err != nil {
		log.Fatal(err)
	}
	samples := make([]float32, 5*antispoof.SampleRate) // stand-in for decoded audio
	r := m.Score(samples)
	fmt.Printf("bona fide minus spoof logit %.2f over %d windows (lowest %.2f)\n", r.Score, r.Windows, r.Min)
}
