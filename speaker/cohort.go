package speaker

// Cohort is a set of impostor embeddings from the deployment's own domain,
// typically other users' enrollment samples in the same tenant. Adaptive
// s-norm draws a probe's closest cohort scores from the model's train-pool
// cohort and this one together: impostors in one deployment share its
// microphones, rooms, codecs and language, so they score higher against each
// other than train-pool recordings do, and a threshold calibrated on
// train-pool alone would accept far more than its target rate of them
// (docs/ACCURACY.md). A Cohort is immutable and safe for concurrent use.
type Cohort struct {
	vecs   []float32 // [n][Dim], each L2-normalised
	owners []string  // owner of each vector
}

// NewCohort returns the cohort of embs ([n][Dim]), each owned by the
// matching entry of owners (a user id): when a claim of an owner is scored,
// that owner's vectors are left out, since they are not impostors there.
// Embeddings of the wrong length or zero norm are skipped.
func NewCohort(owners []string, embs [][]float32) *Cohort {
	c := &Cohort{}
	for i, e := range embs {
		if len(e) != Dim || i >= len(owners) {
			continue
		}
		v := append([]float32(nil), e...)
		var n float32
		for _, x := range v {
			n += x * x
		}
		if n == 0 {
			continue
		}
		normalize(v)
		c.vecs = append(c.vecs, v...)
		c.owners = append(c.owners, owners[i])
	}
	return c
}

// Len returns the number of embeddings in the cohort.
func (c *Cohort) Len() int {
	if c == nil {
		return 0
	}
	return len(c.owners)
}
