package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// Shell completion: `voxgate completion bash|zsh|fish` prints a script
// that asks the binary itself for candidates (`voxgate __complete WORDS`),
// so that completion always knows this binary's commands, subcommands and
// flags; where it offers nothing, the shell completes file names.

// completeCommand is the hidden command the completion scripts call.
const completeCommand = "__complete"

func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	shell, rest, err := subcommand("completion", []string{"bash", "zsh", "fish"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("completion "+shell, stdout)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("completion "+shell, "unexpected argument %q", fs.Arg(0))
	}
	switch shell {
	case "bash":
		_, err = io.WriteString(stdout, bashCompletion)
	case "zsh":
		_, err = io.WriteString(stdout, zshCompletion)
	default:
		_, err = io.WriteString(stdout, fishCompletion)
	}
	return err
}

// runComplete prints the candidates for the last word of words (the words
// typed after "voxgate", the last one possibly empty), one a line.
func runComplete(ctx context.Context, words []string, stdout io.Writer) error {
	for _, c := range completions(ctx, words) {
		fmt.Fprintln(stdout, c)
	}
	return nil
}

func completions(ctx context.Context, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var cands []string
	cmds := commands()
	if len(words) == 1 {
		for _, c := range cmds {
			cands = append(cands, c.name)
		}
		cands = append(cands, "--help", "--version")
		return withPrefix(cands, cur)
	}
	var cmd *command
	for i := range cmds {
		if cmds[i].name == words[0] {
			cmd = &cmds[i]
		}
	}
	if cmd == nil {
		return nil
	}
	path := []string{cmd.name}
	if len(cmd.subs) > 0 {
		if len(words) == 2 {
			return withPrefix(append(append([]string{}, cmd.subs...), "--help"), cur)
		}
		path = append(path, words[1])
	}
	if !strings.HasPrefix(cur, "-") {
		return nil // arguments: the shell's file names
	}
	return withPrefix(flagsOf(ctx, path), cur)
}

// flagsOf returns the flags of a command path ("keys", "create") as
// --name, read from the help it prints.
func flagsOf(ctx context.Context, path []string) []string {
	var help bytes.Buffer
	if err := run(ctx, append(append([]string{}, path...), "--help"), &help, io.Discard); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(&help)
	for sc.Scan() {
		line := sc.Text()
		// PrintDefaults: "  -name TYPE" (or "  -x\tusage" for short names).
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ := strings.Cut(rest, " ")
			name, _, _ = strings.Cut(name, "\t")
			out = append(out, "--"+name)
		}
	}
	return append(out, "--help")
}

func withPrefix(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

const bashCompletion = `# bash completion for voxgate: source it, or install it as
#   voxgate completion bash > /etc/bash_completion.d/voxgate
_voxgate() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local IFS=$'\n'
    COMPREPLY=($(voxgate __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
    if [ ${#COMPREPLY[@]} -eq 0 ]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _voxgate voxgate
`

const zshCompletion = `#compdef voxgate
# zsh completion for voxgate: put it on $fpath as _voxgate, e.g.
#   voxgate completion zsh > "${fpath[1]}/_voxgate"
_voxgate() {
    local -a cands
    cands=("${(@f)$(voxgate __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    cands=(${cands:#})
    if (( ${#cands} )); then
        compadd -a cands
    else
        _files
    fi
}
compdef _voxgate voxgate
`

const fishCompletion = `# fish completion for voxgate:
#   voxgate completion fish > ~/.config/fish/completions/voxgate.fish
function __voxgate_complete
    set -l words (commandline -opc) (commandline -ct)
    voxgate __complete $words[2..-1] 2>/dev/null
end
function __voxgate_no_candidates
    test (count (__voxgate_complete)) -eq 0
end
complete -c voxgate -f -a '(__voxgate_complete)'
complete -c voxgate -n __voxgate_no_candidates -F
`
