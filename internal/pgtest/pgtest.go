// Package pgtest gives tests a PostgreSQL server to run against: the one
// named by VOXGATE_TEST_POSTGRES (scripts/with-postgres.sh starts a
// throwaway cluster and sets it; `make test` runs the suite inside it).
// Without it the tests skip, except when CI is set, where they fail.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate/ids"
)

// EnvURL names the environment variable holding the server's URL (a role
// that may create schemas).
const EnvURL = "VOXGATE_TEST_POSTGRES"

// URL returns the test server's URL, skipping the test (failing it under
// CI) when none is configured.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set and CI is: the PostgreSQL tests must run (make test starts a throwaway cluster with scripts/with-postgres.sh)", EnvURL)
		}
		t.Skipf("%s not set: no PostgreSQL server to test against (run under scripts/with-postgres.sh)", EnvURL)
	}
	return u
}

// Fresh creates an empty schema for one test and returns the URL that
// works in it (search_path set to it); the schema is dropped when the test
// ends. Schemas keep tests apart at a fraction of a new database's cost.
func Fresh(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := "t_" + strings.ToLower(ids.Token(8))
	exec(t, base, `CREATE SCHEMA `+name)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+name+` CASCADE`) })
	return WithParam(t, base, "search_path", name)
}

// WithParam returns u with the query parameter key set to value.
func WithParam(t testing.TB, u, key, value string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := pu.Query()
	q.Set(key, value)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// Exec runs one statement on the server at u.
func Exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	exec(t, u, sql, args...)
}

func exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return fmt.Sprintf("%.60s", s)
}
