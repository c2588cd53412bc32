package challenge

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestWordsChallengeHasTwoListWordsAndATwoDigitNumber(t *testing.T) {
	inList := map[string]bool{}
	for _, w := range WordList() {
		inList[w] = true
	}
	for range 500 {
		c, err := Generate(Words, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(c)
		if len(f) != 3 {
			t.Fatalf("%q: want word word number", c)
		}
		if !inList[f[0]] || !inList[f[1]] || f[0] == f[1] {
			t.Fatalf("%q: words not two distinct list words", c)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 10 || n > 99 {
			t.Fatalf("%q: number not 10-99", c)
		}
	}
}

func TestWordPairsAreAcousticallyDistinct(t *testing.T) {
	byText := map[string]word{}
	for _, w := range wordList() {
		byText[w.text] = w
	}
	for range 1000 {
		c, err := Generate(Words, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(c)
		a, b := byText[f[0]], byText[f[1]]
		if a.phones[0] == b.phones[0] {
			t.Fatalf("%q: both words start with /%s/", c, a.phones[0])
		}
		if strings.Join(rhyme(a.phones), " ") == strings.Join(rhyme(b.phones), " ") {
			t.Fatalf("%q: words rhyme", c)
		}
	}
}

func TestDistinct(t *testing.T) {
	w := func(s string) word {
		f := strings.Fields(s)
		return word{text: f[0], phones: f[1:]}
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"silver S IH L V ER", "bridge B R IH JH", true},
		{"silver S IH L V ER", "silver S IH L V ER", false},
		{"silver S IH L V ER", "shadow SH AE D OW", true},     // S and SH differ
		{"silver S IH L V ER", "sunset S AH N S EH T", false}, // same first phone
		{"candle K AE N D AH L", "bottle B AA T AH L", false}, // rhyme
		{"tiger T AY G ER", "ladder L AE D ER", false},        // rhyme on the final /ER/
		{"tiger T AY G ER", "bridge B R IH JH", true},
	}
	for _, tt := range tests {
		if got := distinct(w(tt.a), w(tt.b)); got != tt.want {
			t.Errorf("distinct(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestWordListHasNoDuplicatesOrDigitWords(t *testing.T) {
	ws := WordList()
	if len(ws) < 200 || len(ws) > 400 {
		t.Errorf("word list has %d words, want 200-400", len(ws))
	}
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w] {
			t.Errorf("%q listed twice", w)
		}
		seen[w] = true
		if w != strings.ToLower(w) || strings.ContainsAny(w, "0123456789 '-") {
			t.Errorf("%q: want a plain lower-case word", w)
		}
	}
	for _, d := range []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"} {
		if seen[d] {
			t.Errorf("%q would be confused with the number", d)
		}
	}
}

// TestWordListIsInRecognizerDictionary checks every word and its listed
// pronunciation against the CMU dictionary of pocketsphinx's en-us model,
// so that each challenge is speakable by the recogniser.
func TestWordListIsInRecognizerDictionary(t *testing.T) {
	const dictPath = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	f, err := os.Open(dictPath)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pocketsphinx-en-us not installed: %v", err)
		}
		t.Skipf("pocketsphinx-en-us not installed (%v); apt-get install pocketsphinx-en-us", err)
	}
	defer f.Close()
	prons := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		word, pron, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(word, '('); i > 0 {
			word = word[:i]
		}
		prons[word] = append(prons[word], strings.TrimSpace(pron))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range wordList() {
		ps, ok := prons[w.text]
		if !ok {
			t.Errorf("%q is not in %s", w.text, filepath.Base(dictPath))
			continue
		}
		want := strings.Join(w.phones, " ")
		found := false
		for _, p := range ps {
			found = found || p == want
		}
		if !found {
			t.Errorf("%q listed as /%s/, dictionary has %q", w.text, want, ps)
		}
	}
}

func TestDigitsChallengeLength(t *testing.T) {
	tests := []struct {
		n, want int
		bad     bool
	}{
		{0, DefaultDigits, false},
		{4, 4, false},
		{8, 8, false},
		{3, 0, true},
		{9, 0, true},
		{-1, 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			c, err := Generate(Digits, Options{Digits: tt.n}, nil)
			if tt.bad {
				if err == nil {
					t.Fatalf("Digits=%d: got %q, want error", tt.n, c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(c)
			if len(f) != tt.want {
				t.Fatalf("%q has %d digits, want %d", c, len(f), tt.want)
			}
			for i, d := range f {
				if len(d) != 1 || d[0] < '0' || d[0] > '9' || (i == 0 && d == "0") {
					t.Fatalf("%q: bad digit %q at %d", c, d, i)
				}
			}
		})
	}
}

// TestDigitsAreUniform is a chi-square sanity check of the randomness: the
// non-leading digits of 2,000 six-digit strings (10,000 draws) should fall
// evenly on 0-9. The bound is the 0.9999 quantile of chi-square with 9
// degrees of freedom, so a correct generator fails once in 10,000 runs.
func TestDigitsAreUniform(t *testing.T) {
	var counts [10]int
	total := 0
	for range 2000 {
		c, err := Generate(Digits, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strings.Fields(c)[1:] {
			counts[d[0]-'0']++
			total++
		}
	}
	if x := chiSquare(counts[:], total); x > 33.7 {
		t.Errorf("digit counts %v: chi-square %.1f > 33.7", counts, x)
	}
}

// TestWordsAreSpreadOverTheList checks that the first word of word
// challenges covers the list evenly (chi-square, 0.9999 quantile) and
// that the numbers cover 10-99.
func TestWordsAreSpreadOverTheList(t *testing.T) {
	ws := WordList()
	index := map[string]int{}
	for i, w := range ws {
		index[w] = i
	}
	counts := make([]int, len(ws))
	var nums [100]int
	const draws = 30000
	for range draws {
		c, err := Generate(Words, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(c)
		counts[index[f[0]]]++
		n, _ := strconv.Atoi(f[2])
		nums[n]++
	}
	// Degrees of freedom k-1 ~ 300: mean k-1, sd sqrt(2(k-1)); allow 5 sd.
	k := float64(len(ws) - 1)
	if x := chiSquare(counts, draws); x > k+5*math.Sqrt(2*k) {
		t.Errorf("first-word chi-square %.0f over %d words: not uniform", x, len(ws))
	}
	for n := 10; n <= 99; n++ {
		if nums[n] == 0 {
			t.Errorf("number %d never drawn in %d challenges", n, draws)
		}
	}
}

func chiSquare(counts []int, total int) float64 {
	exp := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

func TestGenerateAvoidsRecentChallenges(t *testing.T) {
	// Four-digit strings: 9,000 possible, 500 of them recent.
	var recent []string
	for n := 1000; n < 1500; n++ {
		recent = append(recent, strings.Join(strings.Split(strconv.Itoa(n), ""), " "))
	}
	for range 2000 {
		c, err := Generate(Digits, Options{Digits: 4}, recent)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(strings.ReplaceAll(c, " ", "")); n >= 1000 && n < 1500 {
			t.Fatalf("%q repeats a recent challenge", c)
		}
	}

	// A recent list of 100 word challenges is never hit.
	var words []string
	for range 100 {
		c, err := Generate(Words, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		words = append(words, c)
	}
	seen := map[string]bool{}
	for _, w := range words {
		seen[canonical(w)] = true
	}
	for range 2000 {
		c, err := Generate(Words, Options{}, words)
		if err != nil {
			t.Fatal(err)
		}
		if seen[canonical(c)] {
			t.Fatalf("%q repeats a recent challenge", c)
		}
	}
}

func TestPhrasesRotateWithoutRepeat(t *testing.T) {
	phrases := []string{"Kids are talking by the door", "Dogs are sitting by the door", "The sky is green today"}
	var recent []string
	for i := range 30 {
		c, err := Generate(Phrases, Options{Phrases: phrases}, recent)
		if err != nil {
			t.Fatal(err)
		}
		// Keep the two latest as "recent": the third phrase is forced.
		for _, r := range recent {
			if canonical(r) == canonical(c) {
				t.Fatalf("draw %d: %q is among recent %q", i, c, recent)
			}
		}
		recent = append(recent, c)
		if len(recent) > 2 {
			recent = recent[1:]
		}
	}
}

func TestPhrasesAllRecentPicksLeastRecentlyUsed(t *testing.T) {
	phrases := []string{"alpha bravo", "charlie delta"}
	recent := []string{"ALPHA  bravo", "charlie delta"} // newest first
	for range 20 {
		c, err := Generate(Phrases, Options{Phrases: phrases}, recent)
		if err != nil {
			t.Fatal(err)
		}
		if c != "charlie delta" {
			t.Fatalf("got %q, want the least recently used %q", c, "charlie delta")
		}
	}
}

func TestPhrasesModeNeedsTwoPhrases(t *testing.T) {
	if _, err := Generate(Phrases, Options{Phrases: []string{"only one"}}, nil); err == nil {
		t.Fatal("one phrase accepted")
	}
}

func TestGenerateRejectsUnknownMode(t *testing.T) {
	if _, err := Generate(Mode("poems"), Options{}, nil); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if Mode("poems").Valid() || !Words.Valid() || !Digits.Valid() || !Phrases.Valid() {
		t.Fatal("Valid disagrees with the mode constants")
	}
}

func TestValidatePhrases(t *testing.T) {
	errUnspeakable := errors.New("not in dictionary: zxqv")
	speakable := func(p string) error {
		if strings.Contains(p, "zxqv") {
			return errUnspeakable
		}
		return nil
	}
	tests := []struct {
		name    string
		phrases []string
		ok      bool
	}{
		{"two good phrases", []string{"kids are talking by the door", "dogs are sitting by the door"}, true},
		{"one phrase", []string{"kids are talking by the door"}, false},
		{"none", nil, false},
		{"empty phrase", []string{"kids are talking", "  "}, false},
		{"duplicate ignoring case", []string{"Kids are talking", "kids  are talking"}, false},
		{"unspeakable", []string{"kids are talking", "the zxqv jumps"}, false},
		{"too long", []string{"kids are talking", strings.Repeat("word ", 50)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePhrases(tt.phrases, speakable)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidatePhrases(%q) = %v, want ok=%v", tt.phrases, err, tt.ok)
			}
			if tt.name == "unspeakable" && !errors.Is(err, errUnspeakable) {
				t.Fatalf("error %v does not wrap the speakable error", err)
			}
		})
	}
}

func ExampleGenerate() {
	c, err := Generate(Digits, Options{Digits: 4}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(strings.Fields(c)))
	// Output: 4
}

func BenchmarkGenerateWords(b *testing.B) {
	recent := make([]string, 20)
	for i := range recent {
		recent[i], _ = Generate(Words, Options{}, nil)
	}
	for b.Loop() {
		if _, err := Generate(Words, Options{}, recent); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPhrasesNeverRepeatTheLastOne(t *testing.T) {
	phrases := []string{"kids are talking by the door", "dogs are sitting by the door", "the quick brown fox"}
	recent := []string{}
	seen := map[string]int{}
	for i := 0; i < 300; i++ {
		c, err := Generate(Phrases, Options{Phrases: phrases}, recent)
		if err != nil {
			t.Fatal(err)
		}
		if len(recent) > 0 && c == recent[0] {
			t.Fatalf("phrase %q repeated right after itself", c)
		}
		seen[c]++
		recent = append([]string{c}, recent...) // newest first, as the store returns them
	}
	for _, p := range phrases {
		if seen[p] < 50 {
			t.Fatalf("phrase %q drawn %d times in 300: %v", p, seen[p], seen)
		}
	}
	two := phrases[:2]
	if c, _ := Generate(Phrases, Options{Phrases: two}, []string{two[1], two[0], two[1]}); c != two[0] {
		t.Fatalf("with two phrases the other one must come: got %q", c)
	}
}
