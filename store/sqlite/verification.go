package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"voxgate"
)

// VerificationSettings implements voxgate.Store.
func (s *DB) VerificationSettings(ctx context.Context, tenantID string) (voxgate.VerificationSettings, error) {
	var st voxgate.VerificationSettings
	err := s.db.QueryRowContext(ctx, `SELECT target_far, liveness_mode, liveness_max_bpcer FROM verification_settings WHERE tenant_id = ?`,
		tenantID).Scan(&st.TargetFAR, &st.Liveness.Mode, &st.Liveness.MaxBPCER)
	if errors.Is(err, sql.ErrNoRows) {
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO verification_settings (tenant_id, target_far, liveness_mode, liveness_max_bpcer, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET target_far = excluded.target_far, liveness_mode = excluded.liveness_mode,
			liveness_max_bpcer = excluded.liveness_max_bpcer, updated_at = excluded.updated_at`,
		tenantID, st.TargetFAR, st.Liveness.Mode, st.Liveness.MaxBPCER, millis(audit.CreatedAt)); err != nil {
		return err
	}
	if err := recordAttempt(ctx, tx, tenantID, audit); err != nil {
		return err
	}
	return tx.Commit()
}
