package engine

import (
	"fmt"
	"strings"

	"strata/gguf"
)

// TokenType is a token's kind, as tokenizer.ggml.token_type stores it.
type TokenType int32

// Token types.
const (
	TokenNormal      TokenType = 1
	TokenUnknown     TokenType = 2
	TokenControl     TokenType = 3
	TokenUserDefined TokenType = 4
	TokenUnused      TokenType = 5
	TokenByte        TokenType = 6
)

// A Vocab is a model's token list and special tokens, from GGUF metadata.
type Vocab struct {
	Model          string // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE)
	Pre            string // tokenizer.ggml.pre
	Tokens         []string
	Scores         []float32
	Types          []TokenType
	BOS, EOS, UNK  int32 // -1 when the model has none
	AddBOS, AddEOS bool
	AddSpacePrefix bool

	index map[string]int32
	bytes [256]int32 // token of each byte value, -1 when none
}

// ErrNoVocab reports a model without tokenizer metadata.
var ErrNoVocab = fmt.Errorf("engine: the model has no tokenizer (tokenizer.ggml.tokens)")

// VocabFrom reads the tokenizer metadata of f.
func VocabFrom(f *gguf.File) (*Vocab, error) {
	arr, err := f.Array("tokenizer.ggml.tokens")
	if err != nil {
		return nil, ErrNoVocab
	}
	tokens, ok := arr.Values.([]string)
	if !ok || len(tokens) == 0 || len(tokens) > 1<<24 {
		return nil, fmt.Errorf("engine: tokenizer.ggml.tokens is not a list of strings")
	}
	v := &Vocab{Tokens: tokens, BOS: -1, EOS: -1, UNK: -1, index: make(map[string]int32, len(tokens))}
	if v.Model, err = f.String("tokenizer.ggml.model"); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	v.Scores = make([]float32, len(tokens))
	if a, err := f.Array("tokenizer.ggml.scores"); err == nil {
		s, ok := a.Values.([]float32)
		if !ok || len(s) != len(tokens) {
			return nil, fmt.Errorf("engine: tokenizer.ggml.scores has %d values for %d tokens", a.Len(), len(tokens))
		}
		v.Scores = s
	}
	v.Types = make([]TokenType, len(tokens))
	for i := range v.Types {
		v.Types[i] = TokenNormal
	}
	if a, err := f.Array("tokenizer.ggml.token_type"); err == nil {
		s, ok := a.Values.([]int32)
		if !ok || len(s) != len(tokens) {
			return nil, fmt.Errorf("engine: tokenizer.ggml.token_type has %d values for %d tokens", a.Len(), len(tokens))
		}
		for i, t := range s {
			v.Types[i] = TokenType(t)
		}
	}
	special := func(key string, dst *int32) error {
		n, err := f.Int("tokenizer.ggml." + key)
		if err != nil {
			return nil // absent: no such token
		}
		if n < 0 || n >= int64(len(tokens)) {
			return fmt.Errorf("engine: tokenizer.ggml.%s %d is outside the vocabulary of %d", key, n, len(tokens))
		}
		*dst = int32(n)
		return nil
	}
	for _, s := range []struct {
		key string
		dst *int32
	}{{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK}} {
		if err := special(s.key, s.dst); err != nil {
			return nil, err
		}
	}
	flag := func(key string, def bool) bool {
		b, err := f.Bool("tokenizer.ggml." + key)
		if err != nil {
			return def
		}
		return b
	}
	spm := v.Model == "llama"
	v.AddBOS = flag("add_bos_token", spm)
	v.AddEOS = flag("add_eos_token", false)
	v.AddSpacePrefix = flag("add_space_prefix", spm)
	if !spm {
		return nil, fmt.Errorf("engine: tokenizer %q is not supported (supported: llama)", v.Model)
	}
	for i, t := range tokens {
		if _, dup := v.index[t]; !dup {
			v.index[t] = int32(i)
		}
	}
	for b := range v.bytes {
		v.bytes[b] = -1
		if id, ok := v.index[fmt.Sprintf("<0x%02X>", b)]; ok {
			v.bytes[b] = id
		}
	}
	return v, nil
}

// Len is the number of tokens.
func (v *Vocab) Len() int { return len(v.Tokens) }

// Lookup returns the token whose text is s.
func (v *Vocab) Lookup(s string) (int32, bool) {
	id, ok := v.index[s]
	return id, ok
}

// IsEOG reports whether a token ends generation.
func (v *Vocab) IsEOG(id int32) bool {
	return id == v.EOS
}

// Piece returns the bytes a token stands for in text.
func (v *Vocab) Piece(id int32) string {
	if id < 0 || int(id) >= len(v.Tokens) {
		return ""
	}
	text := v.Tokens[id]
	switch v.Types[id] {
	case TokenControl, TokenUnused:
		return ""
	case TokenUnknown:
		return "\u2585" // ▅, as llama.cpp prints it
	case TokenByte:
		var b byte
		if _, err := fmt.Sscanf(text, "<0x%02X>", &b); err == nil {
			return string([]byte{b})
		}
	}
	return strings.ReplaceAll(text, spaceMark, " ")
}
