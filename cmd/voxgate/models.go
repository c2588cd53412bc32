package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"voxgate/weights"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("models", []string{"pull", "verify"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("models "+sub, stdout)
	dir := fs.String("dir", envOr("VOXGATE_MODELS", "models"), "models `DIR` to fill or check")
	mirror := fs.String("mirror", "", "`URL` replacing https://raw.githubusercontent.com (a proxy or mirror)")
	from := fs.String("from", "", "comma-separated `DIRS` whose files, when their SHA-256 is right, are copied instead of downloaded (e.g. ../shared/models; for machines without network)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if sub == "verify" {
		errs := weights.Verify(*dir)
		for _, err := range errs {
			fmt.Fprintln(stderr, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%d of %d model files missing or wrong in %s", len(errs), len(weights.Manifest()), *dir)
		}
		fmt.Fprintf(stdout, "all %d model files present with the right SHA-256 in %s\n", len(weights.Manifest()), *dir)
		return nil
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	p := &weights.Puller{Mirror: *mirror, Log: stdout, From: splitList(*from)}
	return p.Pull(ctx, *dir)
}
