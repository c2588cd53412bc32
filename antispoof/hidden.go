package antispoof

// EmbeddingDim returns the length of the vectors Embedding returns:
// 5*GATDims[1], 160 for both published models.
func (m *Model) EmbeddingDim() int { return 5 * m.cfg.GATDims[1] }

// Embedding runs the network on one window, prepared as in Logits, and
// returns its hidden representation: the readout vector [max|T|, mean T,
// max|S|, mean S, master] (each GATDims[1] long) that the output layer maps
// to the two logits, followed by those logits [spoof, bona fide]. The
// result has EmbeddingDim()+2 elements and is owned by the caller.
func (m *Model) Embedding(x []float32) []float32 {
	ws := m.workspaces.Get().(*workspace)
	defer m.workspaces.Put(ws)
	m.fill(ws, x)
	h := m.readout(ws)
	o := m.out.apply(h, 1)
	return append(h, o[0], o[1])
}

// forward runs the whole network on the window in ws and returns the logits
// [spoof, bona fide].
func (m *Model) forward(ws *workspace) [2]float32 {
	o := m.out.apply(m.readout(ws), 1)
	return [2]float32{o[0], o[1]}
}
