package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"voxgate"
)

// removalKeep is how long a deleted profile's removal record stays for
// nodes to catch up with; one further behind reloads the whole gallery.
const removalKeep = 7 * 24 * time.Hour

// bumpGallery moves the tenant's gallery revision on inside tx and returns
// the new revision.
func bumpGallery(ctx context.Context, tx *sql.Tx, tenantID string) (int64, error) {
	var rev int64
	err := tx.QueryRowContext(ctx, `INSERT INTO gallery_revisions (tenant_id, revision) VALUES (?, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET revision = revision + 1 RETURNING revision`, tenantID).Scan(&rev)
	return rev, err
}

// recordRemoval notes inside tx that userID left the tenant's gallery, and
// prunes removal records older than removalKeep.
func recordRemoval(ctx context.Context, tx *sql.Tx, tenantID, userID string, now time.Time) error {
	rev, err := bumpGallery(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO gallery_removals (tenant_id, user_id, revision, removed_at) VALUES (?, ?, ?, ?)`,
		tenantID, userID, rev, millis(now)); err != nil {
		return err
	}
	cut := millis(now.Add(-removalKeep))
	var pruned sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(revision) FROM gallery_removals WHERE tenant_id = ? AND removed_at < ?`, tenantID, cut).Scan(&pruned); err != nil {
		return err
	}
	if !pruned.Valid {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM gallery_removals WHERE tenant_id = ? AND revision <= ?`, tenantID, pruned.Int64); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE gallery_revisions SET pruned = MAX(pruned, ?) WHERE tenant_id = ?`, pruned.Int64, tenantID)
	return err
}

// GalleryChanges implements voxgate.Store.
func (s *DB) GalleryChanges(ctx context.Context, tenantID string, since int64) (*voxgate.GalleryDelta, error) {
	d := &voxgate.GalleryDelta{}
	var pruned int64
	err := s.db.QueryRowContext(ctx, `SELECT revision, pruned FROM gallery_revisions WHERE tenant_id = ?`, tenantID).Scan(&d.Revision, &pruned)
	if errors.Is(err, sql.ErrNoRows) {
		return &voxgate.GalleryDelta{Full: since != 0}, nil // nothing was ever enrolled
	}
	if err != nil {
		return nil, err
	}
	if since == d.Revision {
		return d, nil
	}
	if since <= 0 || since < pruned || since > d.Revision {
		since, d.Full = 0, true
	}
	// Rows written after d.Revision wait for the next call: taking them
	// now could apply a re-enrollment before the removal preceding it.
	rows, err := s.db.QueryContext(ctx, `SELECT v.user_id, v.model_version, v.template, v.revision, v.updated_at, p.enrolled_at IS NOT NULL
		FROM voiceprints v JOIN profiles p ON p.tenant_id = v.tenant_id AND p.user_id = v.user_id
		WHERE v.tenant_id = ? AND v.gallery_seq > ? AND v.gallery_seq <= ? ORDER BY v.gallery_seq`, tenantID, since, d.Revision)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		vp := &voxgate.Voiceprint{}
		var updated int64
		var enrolled bool
		if err := rows.Scan(&vp.UserID, &vp.ModelVersion, &vp.Template, &vp.Revision, &updated, &enrolled); err != nil {
			return nil, err
		}
		vp.UpdatedAt = fromMillis(updated)
		if enrolled {
			d.Voiceprints = append(d.Voiceprints, vp)
		} else if !d.Full {
			d.Removed = append(d.Removed, vp.UserID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if d.Full {
		return d, nil
	}
	rm, err := s.db.QueryContext(ctx, `SELECT user_id FROM gallery_removals WHERE tenant_id = ? AND revision > ? AND revision <= ? ORDER BY revision`,
		tenantID, since, d.Revision)
	if err != nil {
		return nil, err
	}
	defer rm.Close()
	for rm.Next() {
		var u string
		if err := rm.Scan(&u); err != nil {
			return nil, err
		}
		d.Removed = append(d.Removed, u)
	}
	return d, rm.Err()
}

// UpdateGroup implements voxgate.Store.
func (s *DB) UpdateGroup(ctx context.Context, tenantID, group string, add, remove []string, at time.Time) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, u := range add {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, u).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "No profile %q to add to group %q", u, group)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_name, user_id, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, tenantID, group, u, millis(at)); err != nil {
			return nil, err
		}
	}
	for _, u := range remove {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE tenant_id = ? AND group_name = ? AND user_id = ?`, tenantID, group, u); err != nil {
			return nil, err
		}
	}
	members, err := groupMembers(ctx, tx, tenantID, group)
	if err != nil {
		return nil, err
	}
	return members, tx.Commit()
}

// GroupMembers implements voxgate.Store.
func (s *DB) GroupMembers(ctx context.Context, tenantID, group string) ([]string, error) {
	return groupMembers(ctx, s.db, tenantID, group)
}

func groupMembers(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, tenantID, group string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT user_id FROM group_members WHERE tenant_id = ? AND group_name = ?`, tenantID, group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	members := []string{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		members = append(members, u)
	}
	sort.Strings(members) // in Go, not SQL, so that every store orders bytes alike
	return members, rows.Err()
}

// IdentificationSettings implements voxgate.Store.
func (s *DB) IdentificationSettings(ctx context.Context, tenantID string) (voxgate.IdentificationSettings, error) {
	var st voxgate.IdentificationSettings
	err := s.db.QueryRowContext(ctx, `SELECT watchlist_policy FROM identification_settings WHERE tenant_id = ?`, tenantID).Scan(&st.WatchlistPolicy)
	if errors.Is(err, sql.ErrNoRows) {
		return voxgate.IdentificationSettings{}, nil
	}
	return st, err
}

// SetIdentificationSettings implements voxgate.Store.
func (s *DB) SetIdentificationSettings(ctx context.Context, tenantID string, st voxgate.IdentificationSettings, at time.Time) error {
	if err := st.Validate(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO identification_settings (tenant_id, watchlist_policy, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET watchlist_policy = excluded.watchlist_policy, updated_at = excluded.updated_at`,
		tenantID, st.WatchlistPolicy, millis(at))
	return err
}
