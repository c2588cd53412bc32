package antispoof

// MaxWindows bounds the windows the Detector scores per recording, so that
// its latency is bounded whatever the audio length: at most MaxWindows
// AASIST passes (about 0.3 CPU-s each).
const MaxWindows = 2

// windowStarts returns the first sample of each window of length win over n
// samples: one window for n <= win; otherwise windows every Hop samples plus
// one ending at the last sample (as Score), thinned to at most maxWindows
// of those, spread evenly from the first to the last.
func windowStarts(n, win, maxWindows int) []int {
	if n <= 0 {
		return nil
	}
	if n <= win {
		return []int{0}
	}
	var starts []int
	for s := 0; s+win <= n; s += Hop {
		starts = append(starts, s)
	}
	if last := starts[len(starts)-1]; last+win < n {
		starts = append(starts, n-win)
	}
	if maxWindows <= 0 || len(starts) <= maxWindows {
		return starts
	}
	if maxWindows == 1 {
		return []int{starts[len(starts)/2]}
	}
	picked := make([]int, maxWindows)
	for i := range picked {
		picked[i] = starts[i*(len(starts)-1)/(maxWindows-1)]
	}
	return picked
}

// WindowInputs returns, for each window Detector would score over samples
// (at most maxWindows, or all with maxWindows <= 0), its start, the AASIST
// Embedding (hidden vector and logits) and the spectral statistics that feed
// the back-end. It exists for training the back-end (train/antispoof).
func WindowInputs(m *Model, samples []float32, maxWindows int) (starts []int, emb [][]float32, spec [][]float64) {
	win := m.cfg.Samples
	starts = windowStarts(len(samples), win, maxWindows)
	sp := newSpectrum()
	for _, s := range starts {
		x := samples[s:min(s+win, len(samples))]
		emb = append(emb, m.Embedding(x))
		spec = append(spec, sp.features(x))
	}
	return starts, emb, spec
}

// SpecFeatureNames returns the names of the spectral statistics in the
// order WindowInputs returns them.
func SpecFeatureNames() []string { return append([]string(nil), specFeatureNames...) }

// WindowSpec is WindowInputs without the network: the window starts for a
// window of win samples and their spectral statistics.
func WindowSpec(win int, samples []float32, maxWindows int) (starts []int, spec [][]float64) {
	starts = windowStarts(len(samples), win, maxWindows)
	sp := newSpectrum()
	for _, s := range starts {
		spec = append(spec, sp.features(samples[s:min(s+win, len(samples))]))
	}
	return starts, spec
}
