package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"voxgate"
	"voxgate/audio"
	"voxgate/engine"
)

func runAudio(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, args, err := subcommand("audio", []string{"inspect"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("audio inspect", stdout)
	asJSON := fs.Bool("json", false, "print JSON")
	modelsDir := fs.String("models", envOr("VOXGATE_MODELS", ""), "models `DIR` (for the Silero VAD; default ./models, then ../shared/models)")
	// Accept the file before or after the flags.
	var file string
	rest := args
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := parse(fs, rest); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usagef("audio inspect", "audio inspect needs a FILE")
	}
	dir, err := resolveModels(*modelsDir)
	if err != nil {
		return err
	}
	vadModel, err := engine.LoadVAD(dir)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	an := &engine.Analyzer{Decoder: &audio.Decoder{}, VAD: vadModel}
	a, err := an.Analyze(ctx, data)
	if err != nil {
		return fmt.Errorf("%s: %s (%s)", file, voxgate.ErrorMessage(err), voxgate.ErrorCode(err))
	}
	r := a.Report()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	vadName := "silero"
	if vadModel == nil {
		vadName = "energy (no models folder)"
	}
	fmt.Fprintf(stdout, "file         %s\nformat       %s (%s)\nsample rate  %d Hz, %d channel(s)\nduration     %.3f s\nspeech       %.3f s (VAD: %s)\nSNR          %.1f dB\nclipping     %.4f%%\nlevel        %.1f dBFS RMS\n",
		file, r.Format, r.Codec, r.SampleRate, r.Channels, r.DurationS, r.SpeechS, vadName, r.SNRdB, 100*r.Clipping, r.RMSdBFS)
	return nil
}
