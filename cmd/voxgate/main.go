// Command voxgate is the single voxgate binary: the server and the operator
// tools around it.
//
//	voxgate serve  [--addr HOST:PORT] [--data DIR] [--models DIR]
//	voxgate keys   create|list|revoke ...
//	voxgate audio  inspect FILE [--json]
//	voxgate models pull|verify [--dir DIR]
//	voxgate eval   SETDIR... [--json] [--plot FILE.png]
//	voxgate tokens mint|verify|keygen ...
//	voxgate bench  verify|enroll [-n N] [-c C] [--runs R] [--url URL --key KEY]
//	voxgate bench  identify [--gallery N] [--probes P] [--json]
//	voxgate bench  soak [--duration 10m] [--rate R] [--kill-every 45s]
//
// main only parses flags and wires the store, the service and the HTTP
// server together; everything else lives in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP service", runServe},
		{"keys", "create, list and revoke API keys (create|list|revoke)", runKeys},
		{"audio", "inspect a recording: format, duration, speech, SNR (inspect FILE [--json])", runAudio},
		{"models", "fetch model weights from upstream with SHA-256 checks (pull|verify)", runModels},
		{"eval", "measure error rates on CSV sets through the service (SETDIR... [--json] [--plot FILE.png])", runEval},
		{"tokens", "make and check JWTs for the /uflow routes (mint|verify|keygen)", runTokens},
		{"bench", "load-test a server with real recordings: throughput, latency, CPU and stage shares (verify|enroll; identify: the identification index on a synthetic gallery; soak: mixed load with random SIGKILLs)", runBench},
		{"version", "print the version", runVersion},
	}
}

// errUsage marks an error already explained to the user with usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "voxgate:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "voxgate: unknown command %q\n\n", args[0])
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: voxgate COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun 'voxgate COMMAND -h' for a command's flags.")
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("voxgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, mapping -h to a clean exit and errors to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	return nil
}

var errHelp = errors.New("help shown")

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stdout, "voxgate", version)
	return nil
}

const version = "0.1.0"
