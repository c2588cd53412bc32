// Package audio owns the audio front of voxgate: it recognises an uploaded
// file by its bytes, decodes it, mixes it to mono, resamples it to 16 kHz and
// measures its level, clipping and signal-to-noise ratio.
//
// Every later stage (voice activity detection, speaker embeddings, anti-spoofing,
// phrase checking) consumes a [Clip]: []float32 samples in -1..1 at [Rate] Hz.
//
// # Formats
//
// The container is detected from magic bytes only ([Detect]), never from file
// names or declared content types. WAV (RIFF, RIFX, RF64/BW64; PCM 8-32 bit,
// IEEE float 32/64, mu-law, A-law, WAVE_FORMAT_EXTENSIBLE), FLAC
// (github.com/mewkiz/flac) and MP3 (github.com/hajimehoshi/go-mp3, with LAME
// gapless trimming done here) decode in pure Go. Ogg (Vorbis, Opus), WebM and
// Matroska, MP4/M4A and ADTS AAC, WAV files with other codecs (ADPCM, GSM...)
// and MPEG layer I/II decode through an ffmpeg subprocess when one is
// installed; without it they fail with [ErrUnsupportedFormat]. FLAC and MP3
// files the pure-Go decoders reject as corrupt are retried with ffmpeg, which
// tolerates more damage.
//
// Everything is mixed to mono by averaging the channels and resampled with
// [Resample] (ffmpeg's own resampler for the subprocess formats).
//
// # Limits
//
// A [Decoder] bounds the input size (MaxBytes), the audio duration
// (MaxDuration, checked from headers before any sample buffer is allocated and
// again while decoding) and the subprocess run time (Timeout). Hostile input
// yields one of the sentinel errors, never a panic.
//
// # Fuzzing
//
// The parsers carry fuzz targets; run each for a minute after changing them:
//
//	go test ./audio -run='^$' -fuzz='^FuzzWAV$' -fuzztime=60s
//	go test ./audio -run='^$' -fuzz='^FuzzDetect$' -fuzztime=60s
//	go test ./audio -run='^$' -fuzz='^FuzzDecode$' -fuzztime=60s
//	go test ./audio -run='^$' -fuzz='^FuzzResample$' -fuzztime=60s
//
// Their seed corpora are synthesised in Go by the tests; findings land in
// audio/testdata/fuzz and should be kept as regression inputs.
package audio
