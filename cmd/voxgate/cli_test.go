package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the built binary and returns its stdout, stderr and exit status.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("voxgate %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestHelpOnEveryCommandGoesToStdoutAndExitsZero(t *testing.T) {
	var paths [][]string
	for _, c := range commands() {
		paths = append(paths, []string{c.name})
		for _, s := range c.subs {
			paths = append(paths, []string{c.name, s})
		}
	}
	for _, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, p...), h)
			stdout, stderr, code := cli(t, args...)
			if code != 0 || !strings.HasPrefix(stdout, "usage: voxgate "+p[0]) || stderr != "" {
				t.Errorf("voxgate %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "keys"}} {
		if stdout, _, code := cli(t, args...); code != 0 || !strings.HasPrefix(stdout, "usage: voxgate") {
			t.Errorf("voxgate %v: exit %d, stdout %q", args, code, stdout)
		}
	}
	// A leaf command's help lists its flags.
	if stdout, _, _ := cli(t, "keys", "create", "--help"); !strings.Contains(stdout, "-tenant NAME") || !strings.Contains(stdout, "-scope") {
		t.Errorf("keys create --help:\n%s", stdout)
	}
}

func TestVersionFlagAndCommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		stdout, stderr, code := cli(t, args...)
		if code != 0 || stdout != "voxgate "+version+"\n" || stderr != "" {
			t.Errorf("voxgate %v: exit %d, %q, %q", args, code, stdout, stderr)
		}
	}
	stdout, _, code := cli(t, "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v["version"] != version {
		t.Errorf("version --json: exit %d, %q", code, stdout)
	}
}

func TestExitStatusSeparatesUsageMistakesFromFailures(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		// stderr must contain it
		says string
	}{
		{"no command", nil, 2, "usage: voxgate COMMAND"},
		{"unknown command", []string{"nonsense"}, 2, `unknown command "nonsense"`},
		{"missing subcommand", []string{"keys"}, 2, "keys needs a subcommand"},
		{"unknown subcommand", []string{"keys", "frobnicate"}, 2, `unknown keys subcommand "frobnicate"`},
		{"unknown flag", []string{"keys", "create", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"missing required flag", []string{"keys", "create", "--data", data}, 2, "--tenant is required"},
		{"missing argument", []string{"audio", "inspect"}, 2, "needs a FILE"},
		{"bad log level", []string{"serve", "--log-level", "loud", "--data", data}, 2, `"loud" is not a level`},
		{"bad tenant name", []string{"keys", "create", "--tenant", "bad name", "--data", data}, 1, "voxgate: "},
		{"unreadable file", []string{"audio", "inspect", filepath.Join(data, "missing.wav")}, 1, "missing.wav"},
		{"missing models folder", []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--models", "/nonexistent/models"}, 1, "models directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := cli(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) || stdout != "" {
				t.Fatalf("voxgate %v: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.args, code, tc.code, stdout, stderr, tc.says)
			}
			if tc.code == 2 && tc.args != nil && !strings.Contains(stderr, "--help' for usage") {
				t.Fatalf("usage error without a pointer to the help: %q", stderr)
			}
		})
	}
}

func TestErrorsAreJSONUnderJSONFlag(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"keys", "create", "--json", "--data", data}, 2},
		{[]string{"keys", "list", "--tenant", "nobody", "--json", "--data", data}, 1},
		{[]string{"audio", "inspect", filepath.Join(data, "missing.wav"), "--json"}, 1},
	} {
		stdout, stderr, code := cli(t, tc.args...)
		var e struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
		}
		if code != tc.code || stdout != "" || json.Unmarshal([]byte(stderr), &e) != nil || e.Error == "" || e.ExitCode != tc.code {
			t.Errorf("voxgate %v: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
}

func TestCompletionCandidates(t *testing.T) {
	tests := []struct {
		words []string
		want  []string // all present
		none  []string // all absent
	}{
		{[]string{""}, []string{"serve", "keys", "tokens", "completion", "--version"}, nil},
		{[]string{"ke"}, []string{"keys"}, []string{"serve"}},
		{[]string{"keys", ""}, []string{"create", "list", "revoke"}, []string{"serve"}},
		{[]string{"keys", "create", "--t"}, []string{"--tenant", "--ttl"}, []string{"--scope"}},
		{[]string{"serve", "--"}, []string{"--addr", "--log-level", "--data", "--help"}, nil},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
		{[]string{"audio", "inspect", "fi"}, nil, []string{"inspect"}}, // a file: the shell's names
	}
	for _, tc := range tests {
		stdout, _, code := cli(t, append([]string{completeCommand}, tc.words...)...)
		got := strings.Fields(stdout)
		if code != 0 {
			t.Fatalf("__complete %q: exit %d", tc.words, code)
		}
		for _, w := range tc.want {
			if !contains(got, w) {
				t.Errorf("__complete %q = %v, lacks %q", tc.words, got, w)
			}
		}
		for _, w := range tc.none {
			if contains(got, w) {
				t.Errorf("__complete %q = %v, has %q", tc.words, got, w)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestBashCompletionScriptCompletes sources the bash script in a real
// bash and completes as the shell would on TAB.
func TestBashCompletionScriptCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, _, code := cli(t, "completion", "bash")
	if code != 0 {
		t.Fatal("completion bash failed")
	}
	file := filepath.Join(t.TempDir(), "voxgate.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	probe := `source "$1"; COMP_WORDS=(voxgate keys cr); COMP_CWORD=2; _voxgate; echo "${COMPREPLY[@]}"
COMP_WORDS=(voxgate serve --log); COMP_CWORD=2; _voxgate; echo "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", probe, "bash", file)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "create\n--log-level\n" {
		t.Fatalf("bash completion: %v %q", err, out)
	}
	for _, shell := range []string{"zsh", "fish"} {
		if s, _, code := cli(t, "completion", shell); code != 0 || !strings.Contains(s, "voxgate __complete") {
			t.Errorf("completion %s: exit %d %q", shell, code, s)
		}
	}
}
