package speaker

import (
	"testing"

	"voxgate/safetensors"
)

// TestShippedModelIsCommerciallyUsable guards the default build's licence:
// the embedded model must be trained on permissively licensed speech only
// (train_stats.py writes the training rows' licences into its metadata and
// marks anything else "non-commercial use only"; MODEL_CARD.md).
func TestShippedModelIsCommerciallyUsable(t *testing.T) {
	f, err := safetensors.Parse(shippedModel)
	if err != nil {
		t.Fatal(err)
	}
	meta := f.Metadata()
	if got := meta["licence"]; got != "CC-BY-4.0" {
		t.Fatalf("shipped model licence %q, want CC-BY-4.0 (a non-commercial model must not be the default)", got)
	}
	if meta["calibration"] == "" || meta["corpora"] == "" {
		t.Fatalf("shipped model metadata lacks its calibration or corpora: %v", meta)
	}
}
