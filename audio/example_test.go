package audio_test

import (
	"context"
	"fmt"
	"math"

	"voxgate/audio"
)

func ExampleDecoder_Decode() {
	// One second of a 440 Hz tone recorded at 8 kHz, as a telephone would.
	x := make([]float32, 8000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var d audio.Decoder // defaults: 25 MB, 120 s, ffmpeg from PATH when needed
	clip, err := d.Decode(context.Background(), audio.EncodeWAV(x, 8000))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s, %d Hz, %d ch, %.2f s -> %d samples at %d Hz\n",
		clip.Format, clip.Codec, clip.SourceRate, clip.Channels, clip.Duration, len(clip.Samples), audio.Rate)
	// Output: wav pcm_s16le, 8000 Hz, 1 ch, 1.00 s -> 16000 samples at 16000 Hz
}

func ExampleDetect() {
	fmt.Println(audio.Detect([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00")))
	fmt.Println(audio.Detect([]byte("<html>")))
	// Output:
	// ogg
	// unknown
}

func ExampleMeasure() {
	// A 1 kHz tone at half scale after 0.5 s of digital silence.
	x := make([]float32, 16000)
	for i := 8000; i < len(x); i++ {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/audio.Rate))
	}
	q := audio.Measure(x, nil, 0)
	fmt.Printf("rms %.1f dBFS, peak %.1f dBFS, clipping %.2f, SNR %.0f dB\n", q.RMSdBFS, q.PeakdBFS, q.Clipping, q.SNRdB)
	// Output: rms -12.0 dBFS, peak -6.0 dBFS, clipping 0.00, SNR 100 dB
}

func ExampleResample() {
	x := make([]float32, 48000) // 1 s at 48 kHz
	y := audio.Resample(x, 48000, audio.Rate)
	fmt.Println(len(y))
	// Output: 16000
}
