// Package browsertest proves voxgate's browser side in a real browser:
// headless Chromium, driven over the DevTools protocol, runs the
// VoiceAuthorize SDK and the evaluation console against a real voxgate
// server with the real engine, with FSDD recordings as the microphone.
//
// The microphone is the test's: a WAV played inside the AudioContext that
// records it (testMicrophoneJS), from the start for every capture stream
// and looping, as Chromium's fake capture device plays its file. Everything
// downstream is the SDK's own code, and because the source is rendered in
// the same audio quanta as the recorder, every take is sample-exact however
// loaded the machine is: the tests check each take against the file it came
// from, sample for sample, and a damaged take is a failure, never retried.
// One test records through Chromium's own capture stack as well, held only
// to what survives that stack's dropouts under load.
//
// It holds tests only; the browser tests skip under -short and without
// Chromium or ../shared, and fail instead when CI is set.
package browsertest
