// Package nodetest runs the Node.js scripts in its folder, which check
// voxgate against the JavaScript libraries its users verify it with: the
// official Standard Webhooks verifier (standardwebhooks) and jose. The
// packages are pinned by package-lock.json and installed into
// internal/nodetest/node_modules by `scripts/deps.sh test` (npm ci).
// Without node or the installed packages a test using them is skipped,
// or fails when CI is set.
package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Dir returns this folder, where the scripts and node_modules are.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Require checks that node and the pinned packages are installed; without
// them it skips t, or fails it when CI is set.
func Require(t testing.TB) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else {
		for _, pkg := range []string{"standardwebhooks", "jose"} {
			if _, err := os.Stat(filepath.Join(Dir(), "node_modules", pkg, "package.json")); err != nil {
				missing = "npm package " + pkg + " is not installed in internal/nodetest (run scripts/deps.sh test, or npm ci there)"
				break
			}
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// Run runs one of the folder's scripts with node, stdin as its input, and
// returns its standard output. A script that exits non-zero returns an
// error holding its standard error.
func Run(t testing.TB, script string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(Dir(), script)}, args...)...)
	cmd.Dir = Dir()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("node %s: %w: %s", script, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}
