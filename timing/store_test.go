package timing_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"voxgate"
	"voxgate/store/sqlite"
	"voxgate/timing"
)

func TestWrappedStoreCallsCountAsStoreStage(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := timing.WrapStore(db)
	ctx, rec := timing.With(context.Background())
	if _, err := st.FindProfile(ctx, "no-tenant", "nobody"); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("FindProfile: %v", err)
	}
	spans := rec.Stages()
	if len(spans) != 1 || spans[0].Name != timing.Store || spans[0].Duration <= 0 || spans[0].Duration > time.Minute {
		t.Fatalf("stages = %+v", spans)
	}
}
