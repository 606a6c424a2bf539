package engine

import (
	"slices"
	"testing"
)

func splitWords(p pretokenizer, text string) []string {
	var words []string
	p.split([]rune(text), func(w []rune) { words = append(words, string(w)) })
	return words
}

// TestPretokenizers checks each pattern on its own, on cases worked out
// by hand from the regular expressions.
func TestPretokenizers(t *testing.T) {
	cases := []struct {
		name string
		p    pretokenizer
		text string
		want []string
	}{
		{"gpt2", gpt2Pattern, "Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"gpt2", gpt2Pattern, "I'm 12345 ok", []string{"I", "'m", " 12345", " ok"}},
		{"gpt2", gpt2Pattern, "a  b\n\n", []string{"a", " ", " b", "\n\n"}},
		{"llama3", llama3Pattern, "Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"llama3", llama3Pattern, "I'M 12345", []string{"I", "'M", " ", "123", "45"}},
		{"llama3", llama3Pattern, "x  \n\n y", []string{"x", "  \n\n", " y"}},
		{"llama3", llama3Pattern, "(hi)...\n", []string{"(hi", ")...\n"}},
		{"tekken", tekkenPattern, "Hello World", []string{"Hello", " World"}},
		{"tekken", tekkenPattern, "HELLOworld camelCase", []string{"HELLOworld", " camel", "Case"}},
		{"tekken", tekkenPattern, "I'm 123", []string{"I", "'m", " ", "1", "2", "3"}},
		{"tekken", tekkenPattern, "a/b path/\nz", []string{"a", "/b", " path", "/\n", "z"}},
		{"tekken", tekkenPattern, "  Hi", []string{" ", " Hi"}},
		{"tekken", tekkenPattern, "日本語です", []string{"日本語です"}},
		{"tekken", tekkenPattern, "ÉCOLE école", []string{"ÉCOLE", " école"}},
	}
	for _, c := range cases {
		if got := splitWords(c.p, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: got %q want %q", c.name, c.text, got, c.want)
		}
	}
}

// TestPretokenizerCovers checks that the words of any text cover it
// exactly, in order.
func FuzzPretokenizers(f *testing.F) {
	f.Add("Hello, y'all! 123 日本 \n\n  x")
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range []pretokenizer{gpt2Pattern, llama3Pattern, tekkenPattern} {
			rs := []rune(text)
			var got []rune
			p.split(rs, func(w []rune) {
				if len(w) == 0 {
					t.Fatal("empty word")
				}
				got = append(got, w...)
			})
			if !slices.Equal(got, rs) {
				t.Fatalf("%q split into %q", text, string(got))
			}
		}
	})
}
