// Command synth writes a llama-family GGUF model with random weights at a
// real model's shape, for benchmarks and device checks:
//
//	go run ./tools/synth --shape mistral-7b|magistral-small|tiny --type q4_k_m -o FILE
//	go run ./tools/synth --target mistral-7b-instruct-v0.3|magistral-small-2509 -o FILE
//
// --target writes a target model's metadata (its real architecture keys,
// vocabulary layout, special tokens and chat template) on two small
// layers, as the tests use them (package testmodel's MistralV03 and
// Magistral2509), its vocabulary from testdata/vocab.
//
// The tensor types follow llama.cpp's Q4_K_M mix: Q4_K everywhere, Q6_K for
// the output head and, by llama.cpp's use_more_bits rule, for attn_v and
// ffn_down of the first and last eighth of the layers and every third layer
// between. --type q4_k, q6_k, q8_0, … gives one type throughout. The
// tokenizer comes from --vocab (the bundled tiny model's SentencePiece
// vocabulary by default), padded with control tokens to the shape's
// vocabulary. Weights are scaled so that activations stay finite and
// varied through every layer.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"strata/engine/testmodel"
	"strata/gguf"
)

var shapes = map[string]testmodel.Spec{
	"tiny": {Layers: 4, Embedding: 256, FeedForward: 768, Heads: 4, KVHeads: 1, HeadDim: 128,
		Vocab: 32000, Context: 2048, RopeBase: 1e6, NormEps: 1e-5},
	"mistral-7b": {Layers: 32, Embedding: 4096, FeedForward: 14336, Heads: 32, KVHeads: 8, HeadDim: 128,
		Vocab: 32768, Context: 32768, RopeBase: 1e6, NormEps: 1e-5},
	"magistral-small": {Layers: 40, Embedding: 5120, FeedForward: 32768, Heads: 32, KVHeads: 8, HeadDim: 128,
		Vocab: 131072, Context: 131072, RopeBase: 1e9, NormEps: 1e-5},
}

func main() {
	shape := flag.String("shape", "tiny", "tiny, mistral-7b or magistral-small")
	typ := flag.String("type", "q4_k_m", "q4_k_m, or one tensor type for every matrix (q4_k, q6_k, q8_0, f16, …)")
	out := flag.String("o", "", "output GGUF file")
	vocab := flag.String("vocab", "testdata/tiny-mistral/tiny-mistral-q4km.gguf", "GGUF file whose tokenizer to copy")
	layers := flag.Int("layers", 0, "override the shape's layer count")
	seed := flag.Uint64("seed", 1, "random seed")
	target := flag.String("target", "", "mistral-7b-instruct-v0.3 or magistral-small-2509: that model's metadata on small layers")
	flag.Parse()
	var err error
	if *target != "" {
		err = writeTarget(*target, *out)
	} else {
		err = run(*shape, *typ, *out, *vocab, *layers, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run(shape, typ, out, vocab string, layers int, seed uint64) error {
	s, ok := shapes[shape]
	if !ok {
		return fmt.Errorf("unknown shape %q (tiny, mistral-7b, magistral-small)", shape)
	}
	if out == "" {
		return fmt.Errorf("no output file (-o)")
	}
	if layers > 0 {
		s.Layers = layers
	}
	s.Seed = seed
	if err := setTypes(&s, typ); err != nil {
		return err
	}
	md, err := tokenizer(vocab, s.Vocab)
	if err != nil {
		return err
	}
	s.Metadata = append(md, gguf.KV{Key: "general.name", Value: "synthetic " + shape + " " + typ})
	start := time.Now()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	if err := testmodel.Write(w, s); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st, _ := os.Stat(out)
	slog.Info("wrote", "file", out, "shape", shape, "type", typ, "layers", s.Layers,
		"bytes", st.Size(), "seconds", time.Since(start).Seconds())
	return nil
}

// writeTarget writes a target model's metadata file.
func writeTarget(name, out string) error {
	builds := map[string]struct {
		build func(*gguf.File) (testmodel.Target, error)
		vocab string
	}{
		"mistral-7b-instruct-v0.3": {testmodel.MistralV03, "testdata/vocab/ggml-vocab-llama-spm.gguf"},
		"magistral-small-2509":     {testmodel.Magistral2509, "testdata/vocab/ggml-vocab-llama-bpe.gguf"},
	}
	b, ok := builds[name]
	if !ok {
		return fmt.Errorf("unknown target %q (mistral-7b-instruct-v0.3, magistral-small-2509)", name)
	}
	if out == "" {
		return fmt.Errorf("no output file (-o)")
	}
	src, err := gguf.Open(b.vocab)
	if err != nil {
		return err
	}
	defer src.Close()
	t, err := b.build(src)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	if err := testmodel.Write(w, t.Spec); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	slog.Info("wrote", "file", out, "target", t.Name)
	return f.Close()
}

// setTypes applies a type name: a mix (q4_k_m) or one tensor type.
func setTypes(s *testmodel.Spec, name string) error {
	if strings.EqualFold(name, "q4_k_m") {
		n := s.Layers
		moreBits := func(i int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
		s.Types = map[string]gguf.TensorType{"output": gguf.Q6_K}
		s.TypeOf = func(role string, layer int) (gguf.TensorType, bool) {
			if (role == "attn_v" || role == "ffn_down") && moreBits(layer) {
				return gguf.Q6_K, true
			}
			return 0, false
		}
		return nil
	}
	t, ok := gguf.ParseTensorType(strings.ToUpper(name))
	if !ok {
		return fmt.Errorf("unknown type %q", name)
	}
	s.Types = map[string]gguf.TensorType{}
	for _, role := range []string{"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		s.Types[role] = t
	}
	return nil
}

// tokenizer copies the tokenizer keys of a GGUF file, padding its tokens
// with control tokens to vocab entries.
func tokenizer(path string, vocab int) ([]gguf.KV, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var md []gguf.KV
	for _, kv := range f.KV {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		a, isArray := kv.Value.(gguf.Array)
		if !isArray {
			md = append(md, kv)
			continue
		}
		switch v := a.Values.(type) {
		case []string:
			if len(v) > vocab {
				return nil, fmt.Errorf("%s: %d tokens, more than the shape's %d", path, len(v), vocab)
			}
			for i := len(v); i < vocab; i++ {
				v = append(v, fmt.Sprintf("<pad_%d>", i))
			}
			a.Values = v
		case []float32:
			for len(v) < vocab {
				v = append(v, 0)
			}
			a.Values = v
		case []int32:
			for len(v) < vocab {
				v = append(v, 3) // control
			}
			a.Values = v
		}
		md = append(md, gguf.KV{Key: kv.Key, Value: a})
	}
	if len(md) == 0 {
		return nil, fmt.Errorf("%s has no tokenizer", path)
	}
	return md, nil
}
