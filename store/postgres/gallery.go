package postgres

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate"
)

// removalKeep is how long a deleted profile's removal record stays for
// nodes to catch up with; one further behind reloads the whole gallery.
const removalKeep = 7 * 24 * time.Hour

// bumpGallery moves the tenant's gallery revision on inside tx and returns
// the new revision. The tenant's row stays locked until tx ends, so that
// revisions commit in the order they were handed out.
func bumpGallery(ctx context.Context, tx pgx.Tx, tenantID string) (int64, error) {
	var rev int64
	err := tx.QueryRow(ctx, `INSERT INTO gallery_revisions (tenant_id, revision) VALUES ($1, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET revision = gallery_revisions.revision + 1 RETURNING revision`, tenantID).Scan(&rev)
	return rev, err
}

// recordRemoval notes inside tx that userID left the tenant's gallery, and
// prunes removal records older than removalKeep.
func recordRemoval(ctx context.Context, tx pgx.Tx, tenantID, userID string, now time.Time) error {
	rev, err := bumpGallery(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO gallery_removals (tenant_id, user_id, revision, removed_at) VALUES ($1, $2, $3, $4)`,
		tenantID, userID, rev, millis(now)); err != nil {
		return err
	}
	var pruned *int64
	if err := tx.QueryRow(ctx, `SELECT MAX(revision) FROM gallery_removals WHERE tenant_id = $1 AND removed_at < $2`,
		tenantID, millis(now.Add(-removalKeep))).Scan(&pruned); err != nil {
		return err
	}
	if pruned == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM gallery_removals WHERE tenant_id = $1 AND revision <= $2`, tenantID, *pruned); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE gallery_revisions SET pruned = GREATEST(pruned, $1) WHERE tenant_id = $2`, *pruned, tenantID)
	return err
}

// GalleryChanges implements voxgate.Store. Its reads share one snapshot
// (a read-only REPEATABLE READ transaction), so the revision, the rows and
// the removals agree.
func (s *DB) GalleryChanges(ctx context.Context, tenantID string, since int64) (*voxgate.GalleryDelta, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var d *voxgate.GalleryDelta
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		d, err = galleryChanges(ctx, tx, tenantID, since)
		return err
	})
	return d, err
}

func galleryChanges(ctx context.Context, tx pgx.Tx, tenantID string, since int64) (*voxgate.GalleryDelta, error) {
	d := &voxgate.GalleryDelta{}
	var pruned int64
	err := tx.QueryRow(ctx, `SELECT revision, pruned FROM gallery_revisions WHERE tenant_id = $1`, tenantID).Scan(&d.Revision, &pruned)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := tx.Query(ctx, `SELECT v.user_id, v.model_version, v.template, v.revision, v.updated_at, p.enrolled_at IS NOT NULL
		FROM voiceprints v JOIN profiles p ON p.tenant_id = v.tenant_id AND p.user_id = v.user_id
		WHERE v.tenant_id = $1 AND v.gallery_seq > $2 AND v.gallery_seq <= $3 ORDER BY v.gallery_seq`, tenantID, since, d.Revision)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		vp := &voxgate.Voiceprint{}
		var updated int64
		var enrolled bool
		if err := rows.Scan(&vp.UserID, &vp.ModelVersion, &vp.Template, &vp.Revision, &updated, &enrolled); err != nil {
			rows.Close()
			return nil, err
		}
		vp.UpdatedAt = fromMillis(updated)
		if enrolled {
			d.Voiceprints = append(d.Voiceprints, vp)
		} else if !d.Full {
			d.Removed = append(d.Removed, vp.UserID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if d.Full {
		return d, nil
	}
	rm, err := tx.Query(ctx, `SELECT user_id FROM gallery_removals WHERE tenant_id = $1 AND revision > $2 AND revision <= $3 ORDER BY revision`,
		tenantID, since, d.Revision)
	if err != nil {
		return nil, err
	}
	removed, err := pgx.CollectRows(rm, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	d.Removed = append(d.Removed, removed...)
	return d, nil
}

// UpdateGroup implements voxgate.Store. Added profiles are share-locked,
// so that a concurrent deletion either precedes the check or follows the
// commit (and then takes the membership with it).
func (s *DB) UpdateGroup(ctx context.Context, tenantID, group string, add, remove []string, at time.Time) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var members []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, u := range add {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM profiles WHERE tenant_id = $1 AND user_id = $2 FOR SHARE`, tenantID, u).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "No profile %q to add to group %q", u, group)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO group_members (tenant_id, group_name, user_id, added_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, tenantID, group, u, millis(at)); err != nil {
				return err
			}
		}
		for _, u := range remove {
			if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_name = $2 AND user_id = $3`, tenantID, group, u); err != nil {
				return err
			}
		}
		var err error
		members, err = groupMembers(ctx, tx, tenantID, group)
		return err
	})
	if err != nil {
		return nil, err
	}
	return members, nil
}

// GroupMembers implements voxgate.Store.
func (s *DB) GroupMembers(ctx context.Context, tenantID, group string) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return groupMembers(ctx, s.pool, tenantID, group)
}

func groupMembers(ctx context.Context, q querier, tenantID, group string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_name = $2`, tenantID, group)
	if err != nil {
		return nil, err
	}
	members, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	sort.Strings(members) // in Go, not SQL, so that every store orders bytes alike
	return members, nil
}

// IdentificationSettings implements voxgate.Store.
func (s *DB) IdentificationSettings(ctx context.Context, tenantID string) (voxgate.IdentificationSettings, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st voxgate.IdentificationSettings
	err := s.pool.QueryRow(ctx, `SELECT watchlist_policy FROM identification_settings WHERE tenant_id = $1`, tenantID).Scan(&st.WatchlistPolicy)
	if errors.Is(err, pgx.ErrNoRows) {
		return voxgate.IdentificationSettings{}, nil
	}
	return st, err
}

// SetIdentificationSettings implements voxgate.Store.
func (s *DB) SetIdentificationSettings(ctx context.Context, tenantID string, st voxgate.IdentificationSettings, at time.Time) error {
	if err := st.Validate(); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO identification_settings (tenant_id, watchlist_policy, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET watchlist_policy = excluded.watchlist_policy, updated_at = excluded.updated_at`,
		tenantID, st.WatchlistPolicy, millis(at))
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	return err
}
