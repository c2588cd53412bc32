package phrase

import (
	"strconv"
	"strings"
	"unicode"
)

// A slot is one position of a prompt as it may be spoken: a set of
// alternative word sequences. A plain word has one alternative of one word;
// "0" read as a digit has two ("zero", "oh"); "2024" has several ("two
// thousand twenty four", "twenty twenty four", ...). The first alternative
// is the canonical reading, the one Normalize prints.
type slot [][]string

// Normalize rewrites text into the words a speaker says: lower case, no
// punctuation, numbers spelled out. With digits set, every digit is read
// on its own ("4719" -> "four seven one nine", "0" -> "zero"), as in a
// digit-string challenge; otherwise numbers are read as cardinals ("19" ->
// "nineteen", "2024" -> "two thousand twenty four"), ordinals as ordinals
// ("1st" -> "first") and numbers with a leading zero digit by digit.
//
// The recogniser accepts other common readings too ("oh" for zero, "twenty
// twenty four" for a year); Normalize gives the canonical one.
func Normalize(text string, digits bool) string {
	var words []string
	for _, s := range slots(text, digits) {
		words = append(words, s[0]...)
	}
	return strings.Join(words, " ")
}

// slots splits text into spoken slots, see Normalize.
func slots(text string, digits bool) []slot {
	var out []slot
	for _, tok := range tokenize(text) {
		if tok == "" {
			continue
		}
		if tok[0] >= '0' && tok[0] <= '9' {
			out = append(out, numberSlots(tok, digits)...)
			continue
		}
		out = append(out, slot{{tok}})
	}
	return out
}

// symbolWords are the non-alphanumeric characters that are spoken.
var symbolWords = map[rune]string{
	'&': "and",
	'%': "percent",
	'+': "plus",
	'@': "at",
	'=': "equals",
}

// tokenize lower-cases text and splits it into words and numbers.
// Apostrophes inside a word are kept ("you're"); hyphens, other punctuation
// and white space separate tokens; a digit run is one token, with its
// ordinal suffix ("21st") or decimal part ("3.5") attached. Thousands
// separators inside a number ("1,000") are dropped.
func tokenize(text string) []string {
	var toks []string
	rs := []rune(strings.ToLower(text))
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r >= '0' && r <= '9':
			j := i
			var b strings.Builder
			for j < len(rs) {
				c := rs[j]
				if c >= '0' && c <= '9' {
					b.WriteRune(c)
					j++
					continue
				}
				// "1,000" and "3.5": a separator between digits.
				if (c == ',' || c == '.') && j+1 < len(rs) && rs[j+1] >= '0' && rs[j+1] <= '9' && j > i {
					if c == '.' {
						b.WriteRune('.')
					}
					j++
					continue
				}
				break
			}
			// Ordinal suffix directly after the digits.
			if j < len(rs) {
				rest := string(rs[j:min(j+2, len(rs))])
				if (rest == "st" || rest == "nd" || rest == "rd" || rest == "th") && (j+2 == len(rs) || !unicode.IsLetter(rs[j+2])) && !strings.Contains(b.String(), ".") {
					b.WriteString(rest)
					j += 2
				}
			}
			toks = append(toks, b.String())
			i = j
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || rs[j] == '\'' || rs[j] == '\u2019') {
				j++
			}
			w := strings.Trim(strings.ReplaceAll(string(rs[i:j]), "\u2019", "'"), "'")
			toks = append(toks, w)
			i = j
		default:
			if w, ok := symbolWords[r]; ok {
				toks = append(toks, w)
			}
			i++
		}
	}
	return toks
}

var (
	onesWords = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tensWords = [...]string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	// ordinalWords maps a cardinal's last word to its ordinal.
	ordinalWords = map[string]string{
		"one": "first", "two": "second", "three": "third", "four": "fourth", "five": "fifth",
		"six": "sixth", "seven": "seventh", "eight": "eighth", "nine": "ninth", "ten": "tenth",
		"eleven": "eleventh", "twelve": "twelfth", "thirteen": "thirteenth", "fourteen": "fourteenth",
		"fifteen": "fifteenth", "sixteen": "sixteenth", "seventeen": "seventeenth", "eighteen": "eighteenth",
		"nineteen": "nineteenth", "twenty": "twentieth", "thirty": "thirtieth", "forty": "fortieth",
		"fifty": "fiftieth", "sixty": "sixtieth", "seventy": "seventieth", "eighty": "eightieth",
		"ninety": "ninetieth", "hundred": "hundredth", "thousand": "thousandth", "million": "millionth",
		"billion": "billionth", "zero": "zeroth",
	}
)

// maxCardinal is the largest number read as a cardinal; longer digit runs
// are read digit by digit.
const maxCardinal = 999_999_999_999

// numberSlots reads one numeric token.
func numberSlots(tok string, digits bool) []slot {
	if digits {
		var out []slot
		for _, c := range tok {
			if c >= '0' && c <= '9' {
				out = append(out, digitSlot(int(c-'0')))
			}
		}
		return out
	}
	if strings.HasSuffix(tok, "st") || strings.HasSuffix(tok, "nd") || strings.HasSuffix(tok, "rd") || strings.HasSuffix(tok, "th") {
		n, err := strconv.ParseInt(tok[:len(tok)-2], 10, 64)
		if err == nil && n <= maxCardinal {
			w := cardinal(n)
			w[len(w)-1] = ordinalWords[w[len(w)-1]]
			return []slot{{w}}
		}
		return append(numberSlots(tok[:len(tok)-2], false), slot{{tok[len(tok)-2:]}})
	}
	if i := strings.IndexByte(tok, '.'); i >= 0 {
		out := numberSlots(tok[:i], false)
		out = append(out, slot{{"point"}})
		return append(out, numberSlots(tok[i+1:], true)...)
	}
	// A leading zero ("007", "0800") or a long run reads digit by digit.
	n, err := strconv.ParseInt(tok, 10, 64)
	if (len(tok) > 1 && tok[0] == '0') || err != nil || n > maxCardinal {
		return numberSlots(tok, true)
	}
	alts := [][]string{cardinal(n)}
	if y := yearReading(n); y != nil {
		alts = append(alts, y)
	}
	if n >= 100 {
		if a := cardinalAnd(n); a != nil {
			alts = append(alts, a)
		}
		if n < 10000 {
			// "911" as "nine one one".
			var d []string
			for _, c := range tok {
				d = append(d, onesWords[c-'0'])
			}
			alts = append(alts, d)
		}
	}
	return []slot{alts}
}

// digitSlot is one digit read on its own; zero may be said "oh".
func digitSlot(d int) slot {
	if d == 0 {
		return slot{{"zero"}, {"oh"}}
	}
	return slot{{onesWords[d]}}
}

// cardinal spells n >= 0 the American way: 105 -> "one hundred five".
func cardinal(n int64) []string {
	if n < 20 {
		return []string{onesWords[n]}
	}
	if n < 100 {
		w := []string{tensWords[n/10]}
		if n%10 != 0 {
			w = append(w, onesWords[n%10])
		}
		return w
	}
	if n < 1000 {
		w := []string{onesWords[n/100], "hundred"}
		if n%100 != 0 {
			w = append(w, cardinal(n%100)...)
		}
		return w
	}
	for _, sc := range []struct {
		v    int64
		name string
	}{{1_000_000_000, "billion"}, {1_000_000, "million"}, {1000, "thousand"}} {
		if n >= sc.v {
			w := append(cardinal(n/sc.v), sc.name)
			if n%sc.v != 0 {
				w = append(w, cardinal(n%sc.v)...)
			}
			return w
		}
	}
	return nil
}

// cardinalAnd is the British reading with "and" before the last two
// digits ("one hundred and five"), or nil where it does not differ.
func cardinalAnd(n int64) []string {
	r := n % 100
	if r == 0 || n < 100 {
		return nil
	}
	// 105: "one hundred and five"; 2005: "two thousand and five".
	return append(append(cardinal(n-r), "and"), cardinal(r)...)
}

// yearReading reads 1100-9999 in pairs as years are said ("nineteen
// eighty four", "twenty twenty four", "nineteen oh five"), or nil where
// that is not a common reading (x000, 2000-2009).
func yearReading(n int64) []string {
	if n < 1100 || n > 9999 || n%1000 == 0 || (n >= 2000 && n < 2010) {
		return nil
	}
	hi, lo := n/100, n%100
	w := cardinal(hi)
	switch {
	case lo == 0:
		w = append(w, "hundred")
	case lo < 10:
		w = append(w, "oh", onesWords[lo])
	default:
		w = append(w, cardinal(lo)...)
	}
	return w
}
