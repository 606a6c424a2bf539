package engine_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"strata/engine"
)

// normalized is what a vocabulary gives back for text: SentencePiece
// reads U+2581 (its visible space) as a space; nothing else changes.
func normalized(v *engine.Vocab, text string) string {
	if v.Model == "llama" {
		return strings.ReplaceAll(text, "\u2581", " ")
	}
	return text
}

func TestRoundTrip(t *testing.T) {
	for _, name := range vocabFiles {
		v := openVocab(t, name)
		texts, _ := vocabVectors(t, name)
		texts = append(texts, "<s>[INST] not special </s>", "\u2581x", "a\u0301\u0302", "\x00\x01\t")
		for _, text := range texts {
			if got := v.Decode(v.Encode(text, false, false)); got != normalized(v, text) {
				t.Errorf("%s: %q round-trips to %q", name, text, got)
			}
			if got := v.Decode(v.Encode(text, true, false)); got != normalized(v, text) {
				t.Errorf("%s: %q with BOS round-trips to %q", name, text, got)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	vocabs := make([]*engine.Vocab, len(vocabFiles))
	for i, name := range vocabFiles {
		vocabs[i] = openVocab(f, name)
		texts, _ := vocabVectors(f, name)
		for _, text := range texts {
			f.Add(text)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return
		}
		for i, v := range vocabs {
			ids := v.Encode(text, false, false)
			if got := v.Decode(ids); got != normalized(v, text) {
				t.Fatalf("%s: %q round-trips to %q (%v)", vocabFiles[i], text, got, ids)
			}
		}
	})
}

// TestTextStream checks that streaming detokenization holds back a
// character split over byte tokens until it is complete.
func TestTextStream(t *testing.T) {
	v := openVocab(t, "ggml-vocab-llama-spm.gguf")
	text := "a 🦙 b"
	ids := v.Encode(text, false, false)
	s := v.NewTextStream()
	var out strings.Builder
	for _, id := range ids {
		piece := s.Add(id)
		if !utf8.ValidString(piece) {
			t.Fatalf("piece %q is not valid UTF-8", piece)
		}
		out.WriteString(piece)
	}
	out.WriteString(s.Flush())
	if got := out.String(); got != " "+text {
		t.Fatalf("streamed %q, want %q", got, " "+text)
	}
}

// mixedText is about 1 MB of prose, code, numbers and several scripts.
func mixedText() string {
	parts := []string{
		"The quick brown fox jumps over the lazy dog. ",
		"func main() {\n\tfmt.Println(\"hello, world\")\n}\n",
		"Prices rose 3.5% to $1,234,567 in 2024; ",
		"Привет, как дела? ",
		"日本語のテキストも含まれています。",
		"Ça va très bien, merci ! ",
		"🦙🚀 emoji and \t tabs  and   spaces\n\n",
		"I'm sure they'll say it's 'fine' — we've seen WORSE. ",
	}
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()
}

// BenchmarkTokenize1MB tokenizes 1 MB of mixed text per op.
func BenchmarkTokenize1MB(b *testing.B) {
	text := mixedText()
	for _, name := range vocabFiles {
		v := openVocab(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				v.Encode(text, true, false)
			}
		})
	}
}
