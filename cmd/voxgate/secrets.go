package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"voxgate/seal"
	"voxgate/voicetoken"
)

// The secrets every node of one deployment must share: the voiceprint
// sealing key (DATA/voiceprint.key or VOXGATE_VOICEPRINT_KEY) and the
// voice-token signing keys (DATA/voice-token-*.pem, which also sign client
// tokens), and the salt of audit pseudonyms (DATA/audit.salt or
// VOXGATE_AUDIT_SALT, used with --audit-pseudonyms). They never go into the
// database. A node on its own SQLite file
// creates them at first start; a node of a shared store (PostgreSQL) refuses
// to start without them, since keys of its own would seal and sign what no
// other node can open or check. `voxgate secrets init` creates them once,
// for the operator to copy to every node (docs/DEPLOYMENT.md).

// sharedStore reports whether storeURL names a store several nodes share.
func sharedStore(storeURL string) bool {
	return strings.HasPrefix(storeURL, "postgres://") || strings.HasPrefix(storeURL, "postgresql://")
}

const missingSecret = "%s is missing: every node of a shared store needs the same keys; " +
	"create them once with `voxgate secrets init --data DIR` and copy them into each node's --data (docs/DEPLOYMENT.md)"

// loadSealer returns the voiceprint sealer: keys from VOXGATE_VOICEPRINT_KEY
// (hex, comma-separated, the first sealing, all opening: rotation), else the
// key file in the data directory, created with mode 0600 at first start
// when create is set.
func loadSealer(dataDir string, create bool) (*seal.Sealer, error) {
	if env := os.Getenv("VOXGATE_VOICEPRINT_KEY"); env != "" {
		var keys [][]byte
		for _, part := range strings.Split(env, ",") {
			k, err := seal.ParseKey(strings.TrimSpace(part))
			if err != nil {
				return nil, fmt.Errorf("VOXGATE_VOICEPRINT_KEY: %w", err)
			}
			keys = append(keys, k)
		}
		return seal.New(keys...)
	}
	path := filepath.Join(dataDir, "voiceprint.key")
	if !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf(missingSecret, "the voiceprint key ("+path+" or VOXGATE_VOICEPRINT_KEY)")
		}
	}
	k, err := seal.LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	return seal.New(k)
}

// loadTokenSigner returns the voice-token signer from the key files in the
// data directory, creating the first when create is set.
func loadTokenSigner(dataDir string, create bool) (*voicetoken.Signer, error) {
	if !create {
		paths, err := filepath.Glob(filepath.Join(dataDir, voicetoken.KeyFilePattern))
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf(missingSecret, "the voice-token signing key ("+filepath.Join(dataDir, voicetoken.KeyFilePattern)+")")
		}
	}
	return voicetoken.LoadOrCreate(dataDir)
}

func runSecrets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, args, err := subcommand("secrets", []string{"init"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("secrets init", stdout)
	data := fs.String("data", envOr("VOXGATE_DATA", "./data"), "data `DIR` to create the keys in (env VOXGATE_DATA)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if _, err := loadSealer(*data, true); err != nil {
		return err
	}
	if _, err := loadTokenSigner(*data, true); err != nil {
		return err
	}
	if _, err := loadAuditSalt(*data, true); err != nil {
		return err
	}
	// The files made (a key given in the environment has none).
	tokenKeys, _ := filepath.Glob(filepath.Join(*data, voicetoken.KeyFilePattern))
	for _, p := range append([]string{filepath.Join(*data, "voiceprint.key"), filepath.Join(*data, "audit.salt")}, tokenKeys...) {
		if _, err := os.Stat(p); err == nil {
			fmt.Fprintln(stdout, p)
		}
	}
	fmt.Fprintln(stderr, "voxgate secrets: copy these files (mode 0600) into the --data folder of every node sharing the store")
	return nil
}
