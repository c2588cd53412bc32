// Package phrase checks that a prompt was spoken: the phrase half of
// challenge-response verification, where the user reads a fresh challenge
// aloud and the service must know the audio says it.
//
// It owns text normalisation (numbers to words, punctuation and case
// away), the pronunciation checks that decide whether a prompt can be
// verified at all, and the recogniser: pocketsphinx 5prealpha with its
// US English model (Debian packages libpocketsphinx-dev and
// pocketsphinx-en-us), reached through cgo.
//
// The check is a likelihood ratio. The prompt is forced onto the audio
// with a grammar that accepts only its words (plus silences and fillers
// the decoder inserts), and the same audio is decoded freely by a loop of
// any phones (and, for digit strings, a loop of any digits). A spoken
// prompt fits about as well as the free decode; another sentence fits
// worse wherever its words differ. The difference per frame, calibrated,
// is Result.Score. This was chosen from measurements on the development
// sets (docs/ACCURACY.md): the n-gram language model as the free decode
// is slower and gave worse error rates on telephone audio, the all-phone
// search is two orders of magnitude slower, an 8 kHz front end made
// narrowband alignments fail, and scoring only the active senones made
// scores of different searches incomparable.
//
// Normalize and the scoring helpers build without cgo; the Recognizer
// needs it.
package phrase
