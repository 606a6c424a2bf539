package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"strata/gguf"
)

// vocabOf builds a SentencePiece vocabulary: <unk>, <s>, </s>, the 256
// byte tokens, then extra tokens of the given types.
func vocabOf(t testing.TB, extra []string, types []TokenType) *Vocab {
	t.Helper()
	tokens := []string{"<unk>", "<s>", "</s>"}
	tt := []int32{int32(TokenUnknown), int32(TokenControl), int32(TokenControl)}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		tt = append(tt, int32(TokenByte))
	}
	tokens = append(tokens, extra...)
	for _, typ := range types {
		tt = append(tt, int32(typ))
	}
	w := &gguf.Writer{}
	w.Set("tokenizer.ggml.model", "llama")
	w.Set("tokenizer.ggml.tokens", tokens)
	w.Set("tokenizer.ggml.token_type", tt)
	w.Set("tokenizer.ggml.unknown_token_id", uint32(0))
	w.Set("tokenizer.ggml.bos_token_id", uint32(1))
	w.Set("tokenizer.ggml.eos_token_id", uint32(2))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	v, err := VocabFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hostileVocab has n control tokens "<", "<a", "<aa", … sharing their
// first bytes, of every length up to n: the old matcher hashed each
// length at each '<', n²/2 bytes a position.
func hostileVocab(t testing.TB, n int) *Vocab {
	var extra []string
	var types []TokenType
	for k := range n {
		extra = append(extra, "<"+strings.Repeat("a", k))
		types = append(types, TokenControl)
	}
	return vocabOf(t, extra, types)
}

// referenceFind is the matcher as it was, by brute force: at the first
// position where any allowed token starts, the longest.
func referenceFind(v *Vocab, text string, control bool) (at, n int, id int32) {
	for i := range len(text) {
		best := -1
		for tid, tok := range v.Tokens {
			typ := v.Types[tid]
			if tok == "" || (typ != TokenControl && typ != TokenUserDefined) || !strings.HasPrefix(text[i:], tok) {
				continue
			}
			if firstSpecial(v, tok) != tid {
				continue // the first special token of a text is the one matched
			}
			if typ == TokenControl && !control {
				continue
			}
			if best < 0 || len(tok) > len(v.Tokens[best]) {
				best = tid
			}
		}
		if best >= 0 {
			return i, len(v.Tokens[best]), int32(best)
		}
	}
	return len(text), 0, 0
}

// firstSpecial is the first control or user-defined token of text tok.
func firstSpecial(v *Vocab, tok string) int {
	for id, t := range v.Tokens {
		if t == tok && (v.Types[id] == TokenControl || v.Types[id] == TokenUserDefined) {
			return id
		}
	}
	return -1
}

// matches lists the special tokens of text as [at, n, id] triples.
func matches(text string, find func(text string) (int, int, int32)) [][3]int {
	var out [][3]int
	for base := 0; base < len(text); {
		at, n, id := find(text[base:])
		if n == 0 {
			break
		}
		out = append(out, [3]int{base + at, n, int(id)})
		base += at + n
	}
	return out
}

// scanAll lists the special tokens the scan finds, as matches does.
func scanAll(v *Vocab, text string, control bool) ([][3]int, int) {
	sc := v.specials.scan(text, control)
	var out [][3]int
	for pos := 0; pos < len(text); {
		at, n, id := sc.next(pos)
		if n == 0 {
			pos = at
			continue
		}
		out = append(out, [3]int{at, n, int(id)})
		pos = at + n
	}
	return out, sc.steps
}

// TestSpecialTokensMatchReference compares the automaton with the brute
// force on random vocabularies of tokens over a three-letter alphabet
// (many prefixes and suffixes shared, duplicate texts of both types) and
// random texts, with and without control tokens.
func TestSpecialTokensMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc"[rng.IntN(3)]
		}
		return string(b)
	}
	for trial := range 300 {
		var extra []string
		var types []TokenType
		for range 1 + rng.IntN(12) {
			extra = append(extra, word(1+rng.IntN(6)))
			types = append(types, []TokenType{TokenControl, TokenUserDefined, TokenNormal}[rng.IntN(3)])
		}
		v := vocabOf(t, extra, types)
		for range 5 {
			text := word(rng.IntN(80))
			for _, control := range []bool{false, true} {
				want := matches(text, func(s string) (int, int, int32) { return referenceFind(v, s, control) })
				got, _ := scanAll(v, text, control)
				if !slices.Equal(got, want) {
					t.Fatalf("trial %d, tokens %q %v, text %q, control %v:\n got %v\nwant %v", trial, extra, types, text, control, got, want)
				}
			}
		}
	}
}

// TestSpecialTokensWindows checks matches that cross the scan's windows,
// and tokens longer than a window.
func TestSpecialTokensWindows(t *testing.T) {
	long := strings.Repeat("x", specialWindow+100)
	v := vocabOf(t, []string{"<tok>", long + "y", "xx"}, []TokenType{TokenControl, TokenUserDefined, TokenControl})
	text := strings.Repeat("ab<tok>", 2000) + long + "y" + strings.Repeat("x", 3*specialWindow+1) + "<tok"
	for _, control := range []bool{false, true} {
		want := matches(text, func(s string) (int, int, int32) { return referenceFind(v, s, control) })
		got, _ := scanAll(v, text, control)
		if !slices.Equal(got, want) {
			t.Errorf("control %v: %d matches, want %d", control, len(got), len(want))
		}
	}
}

// TestSpecialTokensLinear is the bounded-cost test: on a vocabulary of
// 2000 control tokens sharing their first bytes and a 20 KB prompt of
// nothing but those first bytes, the automaton looks up at most 4
// transitions a byte (plus one window), where the old matcher hashed
// about 2 million bytes a position.
func TestSpecialTokensLinear(t *testing.T) {
	v := hostileVocab(t, 2000)
	for _, text := range []string{
		strings.Repeat("<", 20000),
		strings.Repeat("<a", 10000),
		strings.Repeat("<"+strings.Repeat("a", 1998)+"b", 10),
	} {
		_, steps := scanAll(v, text, true)
		w := max(specialWindow, v.specials.maxLen)
		if limit := 4*len(text) + 4*w; steps > limit {
			t.Errorf("%.10q…: %d steps for %d bytes, want at most %d", text, steps, len(text), limit)
		}
		t.Logf("%.10q…: %d steps for %d bytes", text, steps, len(text))
	}
}

// BenchmarkEncodeHostile tokenizes a 20 KB prompt with the hostile
// vocabulary (the old matcher: 2.5 s).
func BenchmarkEncodeHostile(b *testing.B) {
	v := hostileVocab(b, 2000)
	text := strings.Repeat("<", 20000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		v.Encode(text, true, true)
	}
}

// TestSpecialTokensMatchReferenceVocabs compares the automaton with the
// brute force on the test vocabularies, on texts made of their special
// tokens' texts, pieces of them and plain text.
func TestSpecialTokensMatchReferenceVocabs(t *testing.T) {
	for _, name := range []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf"} {
		f, err := gguf.Open(filepath.Join("..", "testdata", "vocab", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, err := VocabFrom(f)
		if err != nil {
			t.Fatal(err)
		}
		var specials []string
		for id, tok := range v.Tokens {
			if v.Types[id] == TokenControl || v.Types[id] == TokenUserDefined {
				specials = append(specials, tok)
			}
		}
		rng := rand.New(rand.NewPCG(3, 4))
		var b strings.Builder
		for b.Len() < 400 {
			s := specials[rng.IntN(len(specials))]
			switch rng.IntN(3) {
			case 0:
				b.WriteString(s)
			case 1:
				b.WriteString(s[:rng.IntN(len(s)+1)])
			default:
				b.WriteString(" hello <|")
			}
		}
		text := b.String()
		for _, control := range []bool{false, true} {
			want := matches(text, func(s string) (int, int, int32) { return referenceFind(v, s, control) })
			got, _ := scanAll(v, text, control)
			if !slices.Equal(got, want) {
				t.Errorf("%s, control %v:\n got %v\nwant %v", name, control, got, want)
			}
			t.Logf("%s, control %v: %d special tokens in %d bytes", name, control, len(got), len(text))
		}
	}
}

// TestNoSecondBOS: a text that begins with BOS's text, parsed as special
// tokens, gets no BOS added in front of it; elsewhere BOS is added as
// the vocabulary asks, and raw text "<s>" stays text.
func TestNoSecondBOS(t *testing.T) {
	v := vocabOf(t, []string{"[INST]"}, []TokenType{TokenControl})
	v.AddBOS = true
	count := func(ids []int32) (n int) {
		for _, id := range ids {
			if id == v.BOS {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		text                string
		addSpecial, special bool
		first               bool // BOS first
		bos                 int
	}{
		{"<s>[INST]hi", true, true, true, 1},
		{"<s><s>hi", true, true, true, 2},
		{"[INST]hi", true, true, true, 1},
		{"hi <s>", true, true, true, 2},
		{"<s>hi", true, false, true, 1},
		{"<s>hi", false, true, true, 1},
		{"hi", false, false, false, 0},
	} {
		ids := v.Encode(c.text, c.addSpecial, c.special)
		if count(ids) != c.bos || (len(ids) > 0 && ids[0] == v.BOS) != c.first {
			t.Errorf("Encode(%q, %v, %v) = %v: want %d BOS, first %v", c.text, c.addSpecial, c.special, ids, c.bos, c.first)
		}
	}
}
