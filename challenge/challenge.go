// Package challenge generates the fresh prompts of challenge-response
// verification: text the user is asked to speak, unpredictable enough that
// nobody could have recorded it in advance. It owns the word list and the
// rules that make a prompt easy to say and to recognise; it does not
// recognise speech (package phrase does) and keeps no state: the caller
// passes the profile's recent challenges so that none is repeated.
//
// Every random choice uses crypto/rand.
package challenge

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
)

// Mode is the kind of prompt a challenge asks for.
type Mode string

const (
	// Words is two short common words and a two-digit number, like
	// "silver bridge 19": about 8 million prompts, quick to say.
	Words Mode = "words"
	// Digits is a string of digits, like "4 7 1 9 0 2"; each digit is
	// read on its own.
	Digits Mode = "digits"
	// Phrases is one of a tenant's own passphrases.
	Phrases Mode = "phrases"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == Words || m == Digits || m == Phrases }

// Digit-string lengths for Digits mode.
const (
	MinDigits     = 4
	MaxDigits     = 8
	DefaultDigits = 6
)

// MinPhrases is the fewest passphrases a tenant's list may hold: with one,
// the prompt would be known in advance.
const MinPhrases = 2

// MaxPhraseLen is the longest passphrase accepted, in bytes.
const MaxPhraseLen = 200

// Options tunes Generate. The zero value gives six-digit strings and no
// phrases.
type Options struct {
	// Digits is the length of a Digits challenge, MinDigits to MaxDigits;
	// 0 means DefaultDigits.
	Digits int
	// Phrases is the tenant's passphrase list for Phrases mode, already
	// validated with ValidatePhrases.
	Phrases []string
}

// maxTries bounds the redraws made to avoid a recent challenge. With at
// least 90 * 300 * 299 word prompts or 10^4 digit strings, a recent list
// of ordinary length is avoided in a handful of draws.
const maxTries = 64

// Generate returns a new challenge of the given mode that is not among
// recent, the profile's recent challenges, compared ignoring case and
// spacing; recent runs newest first, as the store returns it. In Phrases
// mode, when every phrase is recent, a random phrase other than the newest
// is returned, so a tenant with two phrases alternates and one with more
// stays unpredictable.
//
// It returns an error for an unknown mode, a digit count out of range, a
// phrase list shorter than MinPhrases, or a failure of the system's
// random source.
func Generate(mode Mode, opts Options, recent []string) (string, error) {
	seen := make(map[string]bool, len(recent))
	for _, r := range recent {
		seen[canonical(r)] = true
	}
	switch mode {
	case Words, "":
		return draw(seen, wordChallenge)
	case Digits:
		n := opts.Digits
		if n == 0 {
			n = DefaultDigits
		}
		if n < MinDigits || n > MaxDigits {
			return "", fmt.Errorf("challenge: digit count %d outside %d-%d", n, MinDigits, MaxDigits)
		}
		return draw(seen, func() (string, error) { return digitChallenge(n) })
	case Phrases:
		return phraseChallenge(opts.Phrases, recent, seen)
	}
	return "", fmt.Errorf("challenge: unknown mode %q", mode)
}

// draw calls gen until it returns a challenge not in seen. After maxTries
// it gives up and returns the last draw rather than fail the user: with
// the prompt spaces above this happens only for absurdly long recent lists.
func draw(seen map[string]bool, gen func() (string, error)) (string, error) {
	var c string
	for range maxTries {
		var err error
		if c, err = gen(); err != nil {
			return "", err
		}
		if !seen[canonical(c)] {
			break
		}
	}
	return c, nil
}

// wordChallenge draws "word word NN".
func wordChallenge() (string, error) {
	words := wordList()
	i, err := intn(len(words))
	if err != nil {
		return "", err
	}
	for {
		j, err := intn(len(words))
		if err != nil {
			return "", err
		}
		if distinct(words[i], words[j]) {
			n, err := intn(90)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s %s %d", words[i].text, words[j].text, 10+n), nil
		}
	}
}

// digitChallenge draws n digits, space-separated so that they are read
// one by one. The first digit is not zero, so the string never looks
// like a shorter number.
func digitChallenge(n int) (string, error) {
	ds := make([]string, n)
	for i := range ds {
		lo, span := 0, 10
		if i == 0 {
			lo, span = 1, 9
		}
		d, err := intn(span)
		if err != nil {
			return "", err
		}
		ds[i] = string(rune('0' + lo + d))
	}
	return strings.Join(ds, " "), nil
}

// phraseChallenge picks a random phrase that is not recent, or else a
// random one other than the most recent.
func phraseChallenge(phrases, recent []string, seen map[string]bool) (string, error) {
	if len(phrases) < MinPhrases {
		return "", fmt.Errorf("challenge: phrases mode needs at least %d phrases, have %d", MinPhrases, len(phrases))
	}
	var fresh []string
	for _, p := range phrases {
		if !seen[canonical(p)] {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) > 0 {
		i, err := intn(len(fresh))
		if err != nil {
			return "", err
		}
		return fresh[i], nil
	}
	// All recent (recent is newest first): any phrase but the one just
	// used, at random, so that the next phrase stays unpredictable when the
	// list has three or more.
	var others []string
	for _, p := range phrases {
		if len(recent) == 0 || canonical(p) != canonical(recent[0]) {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		others = phrases
	}
	i, err := intn(len(others))
	if err != nil {
		return "", err
	}
	return others[i], nil
}

// ValidatePhrases checks a tenant's passphrase list: at least MinPhrases,
// each non-empty, at most MaxPhraseLen bytes, no two the same (ignoring
// case and spacing), and each accepted by speakable, which reports why the
// recogniser could not check a phrase (typically phrase.Recognizer's
// Speakable, words missing from its dictionary). speakable may be nil to
// skip that check.
func ValidatePhrases(phrases []string, speakable func(string) error) error {
	if len(phrases) < MinPhrases {
		return fmt.Errorf("challenge: at least %d phrases are needed, got %d", MinPhrases, len(phrases))
	}
	seen := map[string]bool{}
	var errs []error
	for i, p := range phrases {
		c := canonical(p)
		switch {
		case c == "":
			errs = append(errs, fmt.Errorf("phrase %d is empty", i+1))
		case len(p) > MaxPhraseLen:
			errs = append(errs, fmt.Errorf("phrase %d is longer than %d bytes", i+1, MaxPhraseLen))
		case seen[c]:
			errs = append(errs, fmt.Errorf("phrase %d repeats %q", i+1, p))
		case speakable != nil:
			if err := speakable(p); err != nil {
				errs = append(errs, fmt.Errorf("phrase %d %q: %w", i+1, p, err))
			}
		}
		seen[c] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("challenge: invalid phrases: %w", errors.Join(errs...))
	}
	return nil
}

// canonical folds case and spacing so that "Silver  Bridge 19" and
// "silver bridge 19" count as the same challenge.
func canonical(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// intn returns a uniform random integer in [0, n) from crypto/rand.
func intn(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("challenge: random source: %w", err)
	}
	return int(v.Int64()), nil
}

//go:embed words.txt
var wordsFile string

// word is one entry of the word list.
type word struct {
	text   string
	phones []string // CMU phones, e.g. [S IH L V ER]
}

// wordList is the parsed embedded list, shared read-only.
var wordList = sync.OnceValue(parseWords)

// parseWords parses the embedded list: one word a line, its phones after
// it, '#' comments.
func parseWords() []word {
	var ws []word
	sc := bufio.NewScanner(strings.NewReader(wordsFile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		ws = append(ws, word{text: f[0], phones: f[1:]})
	}
	return ws
}

// WordList returns the words of Words mode.
func WordList() []string {
	ws := wordList()
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out
}

// distinct reports whether two words make an acoustically clear pair:
// not the same word, not starting with the same phone, and not rhyming
// (same last vowel and what follows it), so that a recogniser cannot
// confuse one for the other and the user does not stumble.
func distinct(a, b word) bool {
	if a.text == b.text || a.phones[0] == b.phones[0] {
		return false
	}
	return !slices.Equal(rhyme(a.phones), rhyme(b.phones))
}

// rhyme is the tail of a pronunciation from its last vowel on.
func rhyme(ph []string) []string {
	for i := len(ph) - 1; i >= 0; i-- {
		if isVowel(ph[i]) {
			return ph[i:]
		}
	}
	return ph
}

// isVowel reports whether a CMU phone is a vowel.
func isVowel(p string) bool {
	switch p {
	case "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW":
		return true
	}
	return false
}
