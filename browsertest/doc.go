// Package browsertest proves voxgate's browser side in a real browser:
// headless Chromium, driven over the DevTools protocol, with a WAV file
// standing in for the microphone, runs the VoiceAuthorize SDK and the
// evaluation console against a real voxgate server with the real engine.
// It holds tests only; they skip without Chromium or ../shared, and fail
// instead when CI is set.
package browsertest
