package phrase

import (
	"fmt"
	"math"
	"strings"
)

// ciPhones are the context-independent phones of the en-us acoustic model
// (the CMU dictionary's phone set). The recogniser adds one dictionary
// word per phone so that a grammar can hold a phone loop, which stands in
// for a word the dictionary lacks.
var ciPhones = [...]string{
	"AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
	"IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH",
	"UH", "UW", "V", "W", "Y", "Z", "ZH",
}

// phoneWord is the dictionary word that spells the single phone p.
func phoneWord(p string) string { return "phn_" + strings.ToLower(p) }

// digitWords are the words a digit string may be spoken with.
var digitWords = []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// grammarFor writes the JSGF grammar that accepts exactly the spoken
// readings of ss. inDict reports whether the dictionary holds a word; an
// alternative with a missing word is dropped, and a slot left with no
// alternative becomes a run of free phones, as many as its canonical
// reading has letters times 0.85 (2 to 12), which stands in for the
// unknown words without checking them. The decoder adds silences and
// fillers between words itself. It returns the grammar and the words the
// dictionary lacks.
//
// The run has a fixed length because pocketsphinx 5prealpha finds no path
// at all through a grammar where a phone loop ("( ... )+") or phone runs
// of different lengths follow a word (measured on its asterisk prompts).
func grammarFor(ss []slot, inDict func(string) bool) (jsgf string, oov []string) {
	var body []string
	for _, s := range ss {
		var alts []string
	alt:
		for _, a := range s {
			for _, w := range a {
				if !inDict(w) {
					oov = appendNew(oov, w)
					continue alt
				}
			}
			alts = appendNew(alts, strings.Join(a, " "))
		}
		switch len(alts) {
		case 0:
			letters := 0
			for _, w := range s[0] {
				letters += len(w)
			}
			n := min(12, max(2, int(math.Round(0.85*float64(letters)))))
			body = append(body, strings.TrimSpace(strings.Repeat(phoneSet()+" ", n)))
		case 1:
			body = append(body, alts[0])
		default:
			body = append(body, "( "+strings.Join(alts, " | ")+" )")
		}
	}
	if len(body) == 0 {
		// Nothing to say: a grammar of the empty rule, which no audio
		// can complete, so the check fails.
		body = append(body, "<VOID>")
	}
	return fmt.Sprintf("#JSGF V1.0;\ngrammar prompt;\npublic <prompt> = %s ;\n", strings.Join(body, " ")), oov
}

// phoneSet is the JSGF alternative of every phone word.
func phoneSet() string {
	ph := make([]string, len(ciPhones))
	for i, p := range ciPhones {
		ph[i] = phoneWord(p)
	}
	return "( " + strings.Join(ph, " | ") + " )"
}

// phoneLoop is the JSGF grammar of any phone sequence: the free decode an
// alignment is compared with.
func phoneLoop() string {
	return "#JSGF V1.0;\ngrammar phones;\npublic <phones> = " + phoneSet() + "+ ;\n"
}

// digitLoop is the JSGF grammar of any string of spoken digits.
func digitLoop() string {
	return "#JSGF V1.0;\ngrammar digits;\npublic <digits> = ( " + strings.Join(digitWords, " | ") + " )+ ;\n"
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
