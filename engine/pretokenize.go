package engine

import (
	"fmt"
	"unicode"
)

// A pretokenizer cuts text into the words that byte-level BPE merges
// within. The patterns below are the regular expressions of the models'
// tokenizer.json files. They use look-ahead, which Go's regexp lacks, so
// they are written as data for a small backtracking matcher: a pattern is
// an ordered list of alternatives, the first that matches at a position
// wins (leftmost-first, as in the original engines), and each alternative
// is a sequence of greedy terms over Unicode character classes.
type pretokenizer []alternative

// An alternative returns the end of its match of rs at i, or -1.
type alternative func(rs []rune, i int) int

// term matches between min and max (−1: unbounded) characters of a class,
// greedily with backtracking. A term with notAhead set matches no
// characters and asserts that the next one is not in that class.
type term struct {
	class    func(rune) bool
	min, max int
	notAhead func(rune) bool
}

func seq(terms ...term) alternative {
	return func(rs []rune, i int) int { return matchTerms(terms, rs, i) }
}

func matchTerms(terms []term, rs []rune, i int) int {
	if len(terms) == 0 {
		return i
	}
	t := terms[0]
	if t.notAhead != nil {
		if i < len(rs) && t.notAhead(rs[i]) {
			return -1
		}
		return matchTerms(terms[1:], rs, i)
	}
	n := 0
	for i+n < len(rs) && (t.max < 0 || n < t.max) && t.class(rs[i+n]) {
		n++
	}
	for ; n >= t.min; n-- {
		if end := matchTerms(terms[1:], rs, i+n); end >= 0 {
			return end
		}
	}
	return -1
}

func opt(c func(rune) bool) term  { return term{class: c, min: 0, max: 1} }
func star(c func(rune) bool) term { return term{class: c, min: 0, max: -1} }
func plus(c func(rune) bool) term { return term{class: c, min: 1, max: -1} }

// Character classes.
func isLetter(r rune) bool  { return unicode.IsLetter(r) }
func isNumber(r rune) bool  { return unicode.IsNumber(r) }
func isSpace(r rune) bool   { return unicode.IsSpace(r) }
func notSpace(r rune) bool  { return !unicode.IsSpace(r) }
func isNewline(r rune) bool { return r == '\r' || r == '\n' }
func isSpaceChar(r rune) bool {
	return r == ' '
}

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// notLetterNumberNewline is [^\r\n\p{L}\p{N}].
func notLetterNumberNewline(r rune) bool { return !isNewline(r) && !isLetter(r) && !isNumber(r) }

// isUpperish is [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], isLowerish [\p{Ll}\p{Lm}\p{Lo}\p{M}].
func isUpperish(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M)
}
func isLowerish(r rune) bool { return unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M) }

// contractions matches 's 't 're 've 'm 'll 'd, ignoring case if fold.
func contractions(fold bool) alternative {
	suffixes := []string{"s", "t", "re", "ve", "m", "ll", "d"}
	return func(rs []rune, i int) int {
		if i >= len(rs) || rs[i] != '\'' {
			return -1
		}
	next:
		for _, s := range suffixes {
			if i+1+len(s) > len(rs) {
				continue
			}
			for k, c := range s {
				r := rs[i+1+k]
				if fold {
					r = unicode.ToLower(r)
				}
				if r != c {
					continue next
				}
			}
			return i + 1 + len(s)
		}
		return -1
	}
}

// whitespaceTail is \s*[\r\n]+ | \s+(?!\S) | \s+, shared by the patterns.
var whitespaceTail = []alternative{
	seq(star(isSpace), plus(isNewline)),
	seq(plus(isSpace), term{notAhead: notSpace}),
	seq(plus(isSpace)),
}

// gpt2Pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
var gpt2Pattern = pretokenizer{
	contractions(false),
	seq(opt(isSpaceChar), plus(isLetter)),
	seq(opt(isSpaceChar), plus(isNumber)),
	seq(opt(isSpaceChar), plus(isOther)),
	whitespaceTail[1],
	whitespaceTail[2],
}

// llama3Pattern (llama-bpe): (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
var llama3Pattern = append(pretokenizer{
	contractions(true),
	seq(opt(notLetterNumberNewline), plus(isLetter)),
	seq(term{class: isNumber, min: 1, max: 3}),
	seq(opt(isSpaceChar), plus(isOther), star(isNewline)),
}, whitespaceTail...)

// tekkenPattern (Mistral's Tekken):
// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|
// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|
// ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
var tekkenPattern = append(pretokenizer{
	seq(opt(notLetterNumberNewline), star(isUpperish), plus(isLowerish)),
	seq(opt(notLetterNumberNewline), plus(isUpperish), star(isLowerish)),
	seq(term{class: isNumber, min: 1, max: 1}),
	seq(opt(isSpaceChar), plus(isOther), star(func(r rune) bool { return isNewline(r) || r == '/' })),
}, whitespaceTail...)

// pretokenizers maps tokenizer.ggml.pre to a pattern.
var pretokenizers = map[string]pretokenizer{
	"default":   gpt2Pattern,
	"gpt2":      gpt2Pattern,
	"llama-bpe": llama3Pattern,
	"llama3":    llama3Pattern,
	"llama-v3":  llama3Pattern,
	"tekken":    tekkenPattern,
}

// split calls word with each piece of rs, in order; the pieces cover rs.
func (p pretokenizer) split(rs []rune, word func([]rune)) {
	for i := 0; i < len(rs); {
		end := -1
		for _, alt := range p {
			if end = alt(rs, i); end > i {
				break
			}
		}
		if end <= i {
			end = i + 1 // no alternative matches: a word of one character
		}
		word(rs[i:end])
		i = end
	}
}

func unknownPretokenizer(name string) error {
	return fmt.Errorf("engine: pre-tokenizer %q is not supported (supported: default, gpt2, llama-bpe, tekken)", name)
}
