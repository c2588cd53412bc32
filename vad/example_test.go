package vad_test

import (
	"fmt"
	"log"

	"voxgate/vad"
)

func ExampleSegments() {
	probs := make([]float32, 50) // 50 chunks of 32 ms
	for i := 10; i < 30; i++ {
		probs[i] = 0.9
	}
	for _, s := range vad.Segments(probs, vad.Options{}) {
		fmt.Printf("speech %.3f-%.3f s\n", s.Start, s.End)
	}
	// Output: speech 0.290-0.990 s
}

func ExampleModel_Probs() {
	m, err := vad.Load("models/silero-vad/silero_vad.onnx")
	if err != nil {
		log.Fatal(err)
	}
	var samples []float32 // 16 kHz mono, -1..1
	probs := m.Probs(samples)
	segs := vad.Segments(probs, vad.Options{})
	fmt.Printf("%.2f s of speech in %d segments\n", vad.SpeechSeconds(segs), len(segs))
}

func ExampleModel_NewStream() {
	m, err := vad.Load("models/silero-vad/silero_vad.onnx")
	if err != nil {
		log.Fatal(err)
	}
	st := m.NewStream()
	var probs []float32
	for _, packet := range [][]float32{make([]float32, 320), make([]float32, 320)} { // 20 ms packets
		probs = st.Push(probs, packet)
	}
	probs = st.Flush(probs)
	fmt.Println(len(probs), "probabilities")
}
