package engine_test

import (
	"slices"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

// targetFile builds a target model's GGUF file in memory.
func targetFile(t *testing.T, build func(*gguf.File) (testmodel.Target, error), vocab string) *gguf.File {
	t.Helper()
	src, err := gguf.Open(vocab)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	target, err := build(src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := testmodel.Build(target.Spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTargetModels loads the metadata files of Mistral-7B-Instruct-v0.3
// and Magistral-Small-2509: the configuration is the real models' but for
// the layers and widths, the vocabulary has the real size and special
// tokens, the chat template is the model's own, and the prompt it renders
// tokenizes into the control tokens the models were trained on.
func TestTargetModels(t *testing.T) {
	cases := []struct {
		name     string
		build    func(*gguf.File) (testmodel.Target, error)
		vocab    string
		want     engine.Config
		near     string
		controls []string // the control tokens of the prompt of three turns, in order
	}{
		{"Mistral-7B-Instruct-v0.3", testmodel.MistralV03, "../testdata/vocab/ggml-vocab-llama-spm.gguf",
			engine.Config{Architecture: "llama", Name: "Mistral 7B Instruct v0.3", Layers: 2, Embedding: 256, FeedForward: 512,
				Heads: 32, KVHeads: 8, HeadDim: 128, Vocab: 32768, Context: 32768, NormEps: 1e-5, RopeBase: 1e6, RopeDims: 128, RopeScale: 1},
			"mistral-v3", []string{"[INST]", "[/INST]", "</s>", "[INST]", "[/INST]"}},
		{"Magistral-Small-2509", testmodel.Magistral2509, "../testdata/vocab/ggml-vocab-llama-bpe.gguf",
			engine.Config{Architecture: "llama", Name: "Magistral Small 2509", Layers: 2, Embedding: 256, FeedForward: 512,
				Heads: 32, KVHeads: 8, HeadDim: 128, Vocab: 131072, Context: 131072, NormEps: 1e-5, RopeBase: 1e9, RopeDims: 128, RopeScale: 1},
			// The default system prompt, with its [THINK] example.
			"mistral-v7-tekken", []string{"[SYSTEM_PROMPT]", "[THINK]", "[/THINK]", "[/SYSTEM_PROMPT]", "[INST]", "[/INST]", "</s>", "[INST]", "[/INST]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := targetFile(t, c.build, c.vocab)
			cfg, err := engine.CheckModel(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg != c.want {
				t.Errorf("config\n got %+v\nwant %+v", cfg, c.want)
			}
			v, err := engine.VocabFrom(f)
			if err != nil {
				t.Fatal(err)
			}
			if v.Len() != c.want.Vocab || v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || !v.AddBOS || v.AddEOS {
				t.Errorf("vocabulary: %d tokens, BOS %d EOS %d UNK %d, add BOS %v EOS %v", v.Len(), v.BOS, v.EOS, v.UNK, v.AddBOS, v.AddEOS)
			}
			tmpl, err := engine.ModelChatTemplate(f, v)
			if err != nil || !tmpl.Jinja() || tmpl.Fallback != "" {
				t.Fatalf("template %+v, %v: want the model's own", tmpl, err)
			}
			if near, err := engine.DetectChatTemplate(f, v); err != nil || near.Name != c.near {
				t.Errorf("closest built-in %v, %v; want %s", near, err, c.near)
			}
			chat := engine.Chat{AddGenerationPrompt: true, Messages: []engine.Message{
				{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello!"}, {Role: "user", Content: "Bye"}}}
			text, err := tmpl.Prompt(chat)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := v.EncodePrompt(text, true, true, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if ids[0] != v.BOS || slices.Contains(ids[1:], v.BOS) {
				t.Errorf("prompt %v: want one BOS, first", ids)
			}
			var got []string
			for _, id := range ids[1:] {
				if v.Types[id] == engine.TokenControl {
					got = append(got, v.Tokens[id])
				}
			}
			if !slices.Equal(got, c.controls) {
				t.Errorf("control tokens %v, want %v\nprompt %q", got, c.controls, text)
			}
		})
	}
}
