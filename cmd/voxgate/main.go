// Command voxgate is the single voxgate binary: the server and the operator
// tools around it.
//
//	voxgate serve  [--addr HOST:PORT] [--data DIR] [--store URL] [--models DIR]
//	voxgate keys   create|list|revoke ... [--store URL]
//	voxgate audio  inspect FILE [--json]
//	voxgate models pull|verify [--dir DIR]
//	voxgate eval   SETDIR... [--json] [--plot FILE.png]
//	voxgate tokens mint|verify|keygen ...
//	voxgate secrets init [--data DIR]
//	voxgate bench  verify|enroll [-n N] [-c C] [--runs R] [--url URL --key KEY]
//	voxgate bench  identify [--gallery N] [--probes P] [--json]
//	voxgate bench  soak [--duration 10m] [--rate R] [--kill-every 45s]
//	voxgate completion bash|zsh|fish
//	voxgate --version
//
// Every command and subcommand takes -h/--help (help on stdout, exit 0);
// the exit status is 1 for a failure and 2 for a usage mistake, and under
// --json errors are JSON on stderr.
//
// main only parses flags and wires the store, the service and the HTTP
// server together; everything else lives in the packages.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// subs are its own subcommands (keys create|list|revoke), for help and
	// shell completion.
	subs []string
}

func commands() []command {
	return []command{
		{name: "serve", usage: "run the HTTP service", run: runServe},
		{name: "keys", usage: "create, list and revoke API keys (create|list|revoke)", run: runKeys, subs: []string{"create", "list", "revoke"}},
		{name: "audio", usage: "inspect a recording: format, duration, speech, SNR (inspect FILE [--json])", run: runAudio, subs: []string{"inspect"}},
		{name: "models", usage: "fetch model weights from upstream with SHA-256 checks (pull|verify)", run: runModels, subs: []string{"pull", "verify"}},
		{name: "eval", usage: "measure error rates on CSV sets through the service (SETDIR... [--json] [--plot FILE.png])", run: runEval},
		{name: "tokens", usage: "make and check JWTs for the /uflow routes (mint|verify|keygen)", run: runTokens, subs: []string{"mint", "verify", "keygen"}},
		{name: "bench", usage: "load-test a server with real recordings: throughput, latency, CPU and stage shares (verify|enroll; identify: the identification index on a synthetic gallery; soak: mixed load with random SIGKILLs)", run: runBench, subs: []string{"verify", "enroll", "identify", "soak"}},
		{name: "secrets", usage: "create the keys every node of a shared store needs (init [--data DIR])", run: runSecrets, subs: []string{"init"}},
		{name: "completion", usage: "print a shell completion script (bash|zsh|fish)", run: runCompletion, subs: []string{"bash", "zsh", "fish"}},
		{name: "version", usage: "print the version (also: voxgate --version)", run: runVersion},
	}
}

// Exit statuses, as conventional: 0 success (help included), 1 a runtime
// failure, 2 a mistake in how the command was called.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks a mistake in how a command was called (exit status 2).
var errUsage = errors.New("usage")

// errHelp marks help printed on request (exit status 0).
var errHelp = errors.New("help shown")

// usageError is errUsage with what was wrong and which command's help to
// read.
type usageError struct{ cmd, msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef reports a usage mistake of the command cmd ("keys create").
func usagef(cmd, format string, a ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	code := report(run(ctx, args, os.Stdout, os.Stderr), wantsJSON(args), os.Stderr)
	stop()
	os.Exit(code)
}

// report writes err for the user on stderr, as JSON under --json, and
// returns the exit status.
func report(err error, asJSON bool, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	code := exitFailure
	var ue *usageError
	hint := ""
	if errors.Is(err, errUsage) {
		code = exitUsage
		if errors.As(err, &ue) {
			hint = "voxgate " + strings.TrimSpace(ue.cmd+" --help")
		}
	}
	if err == errUsage { // the usage text is printed already
		return code
	}
	if asJSON {
		out := map[string]any{"error": err.Error(), "exit_code": code}
		if hint != "" {
			out["help"] = hint
		}
		json.NewEncoder(stderr).Encode(out)
		return code
	}
	fmt.Fprintln(stderr, "voxgate:", err)
	if hint != "" {
		fmt.Fprintf(stderr, "Run '%s' for usage.\n", hint)
	}
	return code
}

// wantsJSON reports whether the command line asks for JSON output (then
// errors are JSON too).
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true", "--json=1", "-json=1":
			return true
		}
	}
	return false
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	switch {
	case isHelp(args[0]):
		if len(args) > 1 && !isHelp(args[1]) { // voxgate help keys
			return run(ctx, append(args[1:2:2], "--help"), stdout, stderr)
		}
		usage(stdout)
		return nil
	case args[0] == "--version" || args[0] == "-version" || args[0] == "-v":
		return runVersion(ctx, args[1:], stdout, stderr)
	case args[0] == completeCommand:
		return runComplete(ctx, args[1:], stdout)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usagef("", "unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: voxgate COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun 'voxgate COMMAND --help' for a command's flags; 'voxgate --version' for the version.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 failure, 2 usage error. Under --json, errors are JSON on stderr.")
}

// subcommand picks the subcommand of cmd named by args[0] among subs.
// Help (-h, --help, help, and nothing at all) lists them: on stdout when
// asked for (errHelp), in a usage error otherwise.
func subcommand(cmd string, subs []string, args []string, stdout io.Writer) (string, []string, error) {
	list := strings.Join(subs, "|")
	if len(args) == 0 {
		return "", nil, usagef(cmd, "%s needs a subcommand: %s", cmd, list)
	}
	if isHelp(args[0]) {
		fmt.Fprintf(stdout, "usage: voxgate %s %s [flags]\n\nRun 'voxgate %s SUBCOMMAND --help' for its flags.\n", cmd, list, cmd)
		return "", nil, errHelp
	}
	for _, s := range subs {
		if s == args[0] {
			return s, args[1:], nil
		}
	}
	return "", nil, usagef(cmd, "unknown %s subcommand %q (%s)", cmd, args[0], list)
}

// newFlags returns the FlagSet of a command ("keys create"): its help
// (-h, --help) goes to stdout, its parse errors become usage errors.
func newFlags(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("voxgate "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {}
	return fs
}

// synopsis is what a command takes besides its flags.
func synopsis(name string) string {
	switch name {
	case "audio inspect":
		return "FILE [flags]"
	case "eval":
		return "SETDIR... [flags]"
	case "tokens verify":
		return "[flags] TOKEN (- reads it from stdin)"
	}
	return "[flags]"
}

// parse parses args: -h and --help print the command's help on stdout
// (errHelp); a bad flag is a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package's own messages
	err := fs.Parse(args)
	fs.SetOutput(out)
	name := strings.TrimPrefix(fs.Name(), "voxgate ")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(out, "usage: voxgate %s %s\n\nflags:\n", name, synopsis(name))
		fs.PrintDefaults()
		return errHelp
	default:
		return usagef(name, "%v", err)
	}
}

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stdout)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"version": version})
	}
	fmt.Fprintln(stdout, "voxgate", version)
	return nil
}

const version = "0.1.0"
