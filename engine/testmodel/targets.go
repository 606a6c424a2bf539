package testmodel

import (
	_ "embed"
	"fmt"

	"strata/gguf"
)

// The chat templates of the two target models, as their GGUF files carry
// them in tokenizer.chat_template (see templates/README.md for where each
// comes from).
var (
	//go:embed templates/mistral-7b-instruct-v0.3.jinja
	MistralTemplate string
	//go:embed templates/magistral-small-2509.jinja
	MagistralTemplate string
)

// A Target is a model strata is built for: its metadata exactly as its GGUF
// files carry it, on a few small layers of random weights.
type Target struct {
	Name string // the file name to write it under, without .gguf
	Spec Spec
}

// MistralV03 is Mistral-7B-Instruct-v0.3 (tokenizer v3, SentencePiece):
// every metadata key of the real file (architecture, context, heads, head
// size, RoPE base 1e6, RMSNorm epsilon, vocabulary size and special
// tokens, chat template) but 2 layers of width 256 and feed-forward 512
// instead of 32 of 4096 and 14336.
//
// The vocabulary is the real one's layout: ids 0 to 770 are <unk>, <s>,
// </s>, [INST], [/INST], [TOOL_CALLS], [AVAILABLE_TOOLS],
// [/AVAILABLE_TOOLS], [TOOL_RESULTS], [/TOOL_RESULTS] and [control_8] to
// [control_768], all control tokens, followed by the 31997 pieces of a
// 32000-token SentencePiece vocabulary after its own <unk>, <s> and </s>:
// 32768 in all. spm is that vocabulary (Mistral's own is not available
// offline; the Llama 2 one of testdata/vocab has the same size and
// layout).
func MistralV03(spm *gguf.File) (Target, error) {
	tokens, scores, types, err := spmVocab(spm)
	if err != nil {
		return Target{}, err
	}
	if len(tokens) != 32000 {
		return Target{}, fmt.Errorf("testmodel: the SentencePiece vocabulary has %d tokens, want 32000", len(tokens))
	}
	head := []string{"<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
		"[TOOL_RESULTS]", "[/TOOL_RESULTS]"}
	for i := 8; i <= 768; i++ {
		head = append(head, fmt.Sprintf("[control_%d]", i))
	}
	vt := append(append([]string{}, head...), tokens[3:]...)
	vs := append(make([]float32, len(head)), scores[3:]...)
	vy := make([]int32, len(head), len(vt))
	for i := range vy {
		vy[i] = 3 // control
	}
	vy[0] = 2 // unknown
	vy = append(vy, types[3:]...)
	s := Spec{
		Layers: 2, Embedding: 256, FeedForward: 512, Heads: 32, KVHeads: 8, HeadDim: 128,
		Vocab: len(vt), Context: 32768, RopeBase: 1e6, NormEps: 1e-5, Seed: 3,
		Types: map[string]gguf.TensorType{"output": gguf.Q6_K},
		Metadata: []gguf.KV{
			{Key: "general.name", Value: "Mistral 7B Instruct v0.3"},
			{Key: "general.basename", Value: "Mistral"},
			{Key: "general.finetune", Value: "Instruct"},
			{Key: "general.version", Value: "v0.3"},
			{Key: "general.size_label", Value: "7B"},
			{Key: "general.license", Value: "apache-2.0"},
			{Key: "general.file_type", Value: uint32(15)}, // Q4_K_M
			{Key: "llama.vocab_size", Value: uint32(len(vt))},
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.pre", Value: "default"},
			{Key: "tokenizer.ggml.tokens", Value: vt},
			{Key: "tokenizer.ggml.scores", Value: vs},
			{Key: "tokenizer.ggml.token_type", Value: vy},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
			{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
			{Key: "tokenizer.ggml.add_bos_token", Value: true},
			{Key: "tokenizer.ggml.add_eos_token", Value: false},
			{Key: "tokenizer.chat_template", Value: MistralTemplate},
		},
	}
	return Target{Name: "Mistral-7B-Instruct-v0.3", Spec: s}, nil
}

// Magistral2509 is Magistral-Small-2509 (Tekken, tokenizer v13, as
// llama.cpp converts it: architecture llama, byte-level BPE with the
// tekken pre-tokenizer): every metadata key of the real file (context
// 131072, 32 query and 8 KV heads of 128, RoPE base 1e9, RMSNorm epsilon,
// 131072 tokens with its special tokens, chat template) but 2 layers of
// width 256 and feed-forward 512 instead of 40 of 5120 and 32768.
//
// The vocabulary is the real one's layout: ids 0 to 999 are Tekken's
// control tokens (<unk>, <s>, </s>, [INST], [/INST], [AVAILABLE_TOOLS], …,
// [SYSTEM_PROMPT], [/SYSTEM_PROMPT], [TOOL_CONTENT], [ARGS] 32, [CALL_ID]
// 33, [THINK] 34, [/THINK] 35, the rest <SPECIAL_n>), then 130072
// byte-level BPE tokens: the 128000 of bpe (Llama 3's, the same
// byte-level scheme; Tekken's own is not available offline) with its
// merges, and 2072 unused tokens.
func Magistral2509(bpe *gguf.File) (Target, error) {
	a, err := bpe.Array("tokenizer.ggml.tokens")
	if err != nil {
		return Target{}, fmt.Errorf("testmodel: %w", err)
	}
	tokens, ok := a.Values.([]string)
	if !ok || len(tokens) < 128000 {
		return Target{}, fmt.Errorf("testmodel: the BPE vocabulary has %d tokens, want at least 128000", len(tokens))
	}
	m, err := bpe.Array("tokenizer.ggml.merges")
	if err != nil {
		return Target{}, fmt.Errorf("testmodel: %w", err)
	}
	const specials, bpeTokens = 1000, 130072
	names := []string{"<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
		"[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]",
		"[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]"}
	named := map[int]string{32: "[ARGS]", 33: "[CALL_ID]", 34: "[THINK]", 35: "[/THINK]"}
	vt := make([]string, 0, specials+bpeTokens)
	vy := make([]int32, 0, specials+bpeTokens)
	for i := range specials {
		name := fmt.Sprintf("<SPECIAL_%d>", i)
		if i < len(names) {
			name = names[i]
		} else if n, ok := named[i]; ok {
			name = n
		}
		vt = append(vt, name)
		vy = append(vy, 3) // control
	}
	for _, t := range tokens[:128000] {
		vt = append(vt, t)
		vy = append(vy, 1)
	}
	for i := len(vt); i < specials+bpeTokens; i++ {
		vt = append(vt, fmt.Sprintf("<unused_%d>", i))
		vy = append(vy, 5) // unused
	}
	s := Spec{
		Layers: 2, Embedding: 256, FeedForward: 512, Heads: 32, KVHeads: 8, HeadDim: 128,
		Vocab: len(vt), Context: 131072, RopeBase: 1e9, NormEps: 1e-5, Seed: 4,
		Types: map[string]gguf.TensorType{"output": gguf.Q6_K},
		Metadata: []gguf.KV{
			{Key: "general.name", Value: "Magistral Small 2509"},
			{Key: "general.basename", Value: "Magistral"},
			{Key: "general.size_label", Value: "24B"},
			{Key: "general.version", Value: "2509"},
			{Key: "general.license", Value: "apache-2.0"},
			{Key: "general.file_type", Value: uint32(15)}, // Q4_K_M
			{Key: "llama.vocab_size", Value: uint32(len(vt))},
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: "tekken"},
			{Key: "tokenizer.ggml.tokens", Value: vt},
			{Key: "tokenizer.ggml.token_type", Value: vy},
			{Key: "tokenizer.ggml.merges", Value: m},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
			{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
			{Key: "tokenizer.ggml.padding_token_id", Value: uint32(11)},
			{Key: "tokenizer.ggml.add_bos_token", Value: true},
			{Key: "tokenizer.ggml.add_eos_token", Value: false},
			{Key: "tokenizer.chat_template", Value: MagistralTemplate},
		},
	}
	return Target{Name: "Magistral-Small-2509", Spec: s}, nil
}

// spmVocab reads a SentencePiece vocabulary's tokens, scores and types.
func spmVocab(f *gguf.File) ([]string, []float32, []int32, error) {
	get := func(key string) (any, error) {
		a, err := f.Array(key)
		if err != nil {
			return nil, fmt.Errorf("testmodel: %w", err)
		}
		return a.Values, nil
	}
	t, err := get("tokenizer.ggml.tokens")
	if err != nil {
		return nil, nil, nil, err
	}
	sc, err := get("tokenizer.ggml.scores")
	if err != nil {
		return nil, nil, nil, err
	}
	ty, err := get("tokenizer.ggml.token_type")
	if err != nil {
		return nil, nil, nil, err
	}
	tokens, ok1 := t.([]string)
	scores, ok2 := sc.([]float32)
	types, ok3 := ty.([]int32)
	if !ok1 || !ok2 || !ok3 || len(scores) != len(tokens) || len(types) != len(tokens) {
		return nil, nil, nil, fmt.Errorf("testmodel: the SentencePiece vocabulary's tokens, scores and types do not match")
	}
	return tokens, scores, types, nil
}
