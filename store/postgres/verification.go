package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"voxgate"
)

// VerificationSettings implements voxgate.Store.
func (s *DB) VerificationSettings(ctx context.Context, tenantID string) (voxgate.VerificationSettings, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st voxgate.VerificationSettings
	err := s.pool.QueryRow(ctx, `SELECT target_far, liveness_mode, liveness_max_bpcer FROM verification_settings WHERE tenant_id = $1`,
		tenantID).Scan(&st.TargetFAR, &st.Liveness.Mode, &st.Liveness.MaxBPCER)
	if errors.Is(err, pgx.ErrNoRows) {
		return voxgate.VerificationSettings{}, nil
	}
	return st, err
}

// SetVerificationSettings implements voxgate.Store: the settings and their
// audit row in one transaction.
func (s *DB) SetVerificationSettings(ctx context.Context, tenantID string, st voxgate.VerificationSettings, audit *voxgate.Attempt) error {
	if err := st.Validate(); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO verification_settings (tenant_id, target_far, liveness_mode, liveness_max_bpcer, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id) DO UPDATE SET target_far = excluded.target_far, liveness_mode = excluded.liveness_mode,
				liveness_max_bpcer = excluded.liveness_max_bpcer, updated_at = excluded.updated_at`,
			tenantID, st.TargetFAR, st.Liveness.Mode, st.Liveness.MaxBPCER, millis(audit.CreatedAt)); err != nil {
			return err
		}
		return recordAttempt(ctx, tx, tenantID, audit)
	})
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	return err
}
