// Package browsertest proves voxgate's browser side in a real browser:
// headless Chromium, driven over the DevTools protocol, with a WAV file
// standing in for the microphone, runs the VoiceAuthorize SDK and the
// evaluation console against a real voxgate server with the real engine.
//
// Chromium's fake microphone plays its file from the start for every new
// capture stream and loops it, whatever the page is doing; the recorder
// waits for a second of quiet before a take may start, so each take is the
// next whole answer however late it attaches under load, and the tests
// check each take against the file it came from, sample by sample.
//
// It holds tests only; they skip under -short and without Chromium or
// ../shared, and fail instead when CI is set.
package browsertest
