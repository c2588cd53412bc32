package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"voxgate/weights"
)

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "pull" && args[0] != "verify") {
		fmt.Fprintln(stderr, "usage: voxgate models pull|verify [--dir DIR] [--mirror URL]")
		return errUsage
	}
	fs := newFlags("models "+args[0], stderr)
	dir := fs.String("dir", envOr("VOXGATE_MODELS", "models"), "models `DIR` to fill or check")
	mirror := fs.String("mirror", "", "`URL` replacing https://raw.githubusercontent.com (a proxy or mirror)")
	if err := parse(fs, args[1:]); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if args[0] == "verify" {
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
	p := &weights.Puller{Mirror: *mirror, Log: stdout}
	return p.Pull(ctx, *dir)
}
