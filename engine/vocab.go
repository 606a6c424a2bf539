package engine

import (
	"errors"
	"fmt"
	"slices"
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

	index     map[string]int32
	bytes     [256]int32 // SentencePiece: the <0xXX> token of each byte, -1 when none
	bpe       *bpeModel  // byte-level BPE only
	specials  specialTokens
	eog       map[int32]bool
	longest   int  // the longest token's text, in bytes
	everyByte bool // every byte of raw text gives at least one token
}

// ErrNoVocab reports a model without tokenizer metadata.
var ErrNoVocab = fmt.Errorf("engine: the model has no tokenizer (tokenizer.ggml.tokens)")

// VocabFrom reads the tokenizer metadata of f.
func VocabFrom(f *gguf.File) (*Vocab, error) {
	arr, err := f.Array("tokenizer.ggml.tokens")
	if errors.Is(err, gguf.ErrMissingKey) {
		return nil, ErrNoVocab
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	tokens, ok := arr.Values.([]string)
	if !ok {
		return nil, fmt.Errorf("engine: %w", &gguf.KeyTypeError{Key: "tokenizer.ggml.tokens", Want: "array of string", Got: arr})
	}
	if len(tokens) == 0 || len(tokens) > 1<<24 {
		return nil, fmt.Errorf("engine: tokenizer.ggml.tokens has %d tokens (want 1 to %d)", len(tokens), 1<<24)
	}
	v := &Vocab{Tokens: tokens, BOS: -1, EOS: -1, UNK: -1, index: make(map[string]int32, len(tokens))}
	if v.Model, err = f.String("tokenizer.ggml.model"); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if v.Pre, err = f.String("tokenizer.ggml.pre"); err != nil && !errors.Is(err, gguf.ErrMissingKey) {
		return nil, fmt.Errorf("engine: %w", err)
	}
	v.Scores = make([]float32, len(tokens))
	if s, ok, err := perToken[float32](f, "tokenizer.ggml.scores", "float32", len(tokens)); err != nil {
		return nil, err
	} else if ok {
		v.Scores = s
	}
	v.Types = make([]TokenType, len(tokens))
	for i := range v.Types {
		v.Types[i] = TokenNormal
	}
	if s, ok, err := perToken[int32](f, "tokenizer.ggml.token_type", "int32", len(tokens)); err != nil {
		return nil, err
	} else if ok {
		for i, t := range s {
			v.Types[i] = TokenType(t)
		}
	}
	for _, s := range []struct {
		key string
		dst *int32
	}{{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK}} {
		id, ok, err := tokenID(f, "tokenizer.ggml."+s.key, len(tokens))
		if err != nil {
			return nil, err
		}
		if ok {
			*s.dst = id
		}
	}
	var flagErr error
	flag := func(key string, def bool) bool {
		b, err := f.Bool("tokenizer.ggml." + key)
		if errors.Is(err, gguf.ErrMissingKey) {
			return def
		}
		if err != nil && flagErr == nil {
			flagErr = fmt.Errorf("engine: %w", err)
		}
		return b
	}
	for i, t := range tokens {
		if _, dup := v.index[t]; !dup {
			v.index[t] = int32(i)
		}
	}
	switch v.Model {
	case "llama":
		v.AddBOS = flag("add_bos_token", true)
		v.AddSpacePrefix = flag("add_space_prefix", true)
		for b := range v.bytes {
			v.bytes[b] = -1
			if id, ok := v.index[fmt.Sprintf("<0x%02X>", b)]; ok {
				v.bytes[b] = id
			}
		}
	case "gpt2":
		if v.Pre == "" {
			v.Pre = "default"
		}
		a, err := f.Array("tokenizer.ggml.merges")
		if err != nil {
			return nil, fmt.Errorf("engine: a BPE vocabulary needs tokenizer.ggml.merges: %w", err)
		}
		merges, ok := a.Values.([]string)
		if !ok {
			return nil, fmt.Errorf("engine: %w", &gguf.KeyTypeError{Key: "tokenizer.ggml.merges", Want: "array of string", Got: a})
		}
		if v.bpe, err = newBPEModel(v, merges); err != nil {
			return nil, err
		}
		// llama.cpp adds BOS for these pre-tokenizers whatever the file says.
		v.AddBOS = flag("add_bos_token", v.bpe.ignoreMerges)
	default:
		return nil, fmt.Errorf("engine: tokenizer %q is not supported (supported: llama, gpt2)", v.Model)
	}
	v.AddEOS = flag("add_eos_token", false)
	if flagErr != nil {
		return nil, flagErr
	}
	v.specials = newSpecialTokens(v)
	if v.eog, err = endOfGeneration(v, f); err != nil {
		return nil, err
	}
	for _, t := range tokens {
		v.longest = max(v.longest, len(t))
	}
	v.everyByte = v.bpe != nil || v.UNK >= 0 || !slices.Contains(v.bytes[:], -1)
	return v, nil
}

// eogTexts are the texts of tokens that end a turn in the chat formats
// strata knows.
var eogTexts = []string{"</s>", "<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "<|end|>", "<|eom_id|>"}

// endOfGeneration collects the tokens that end generation: EOS, the
// end-of-turn tokens the metadata names, and control tokens whose text
// is a known end of turn.
func endOfGeneration(v *Vocab, f *gguf.File) (map[int32]bool, error) {
	eog := map[int32]bool{}
	if v.EOS >= 0 {
		eog[v.EOS] = true
	}
	for _, key := range []string{"eot_token_id", "eom_token_id"} {
		id, ok, err := tokenID(f, "tokenizer.ggml."+key, len(v.Tokens))
		if err != nil {
			return nil, err
		}
		if ok {
			eog[id] = true
		}
	}
	for _, t := range eogTexts {
		if id, ok := v.index[t]; ok && v.Types[id] == TokenControl {
			eog[id] = true
		}
	}
	return eog, nil
}

// tokenID reads an optional key naming a token: ok false when absent, an
// error when it is not an integer or names no token.
func tokenID(f *gguf.File, key string, vocab int) (id int32, ok bool, err error) {
	n, err := f.Int(key)
	if errors.Is(err, gguf.ErrMissingKey) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("engine: %w", err)
	}
	if n < 0 || n >= int64(vocab) {
		return 0, false, fmt.Errorf("engine: %s %d is outside the vocabulary of %d", key, n, vocab)
	}
	return int32(n), true, nil
}

// perToken reads an optional array of one value per token, of element
// type T (named want): ok false when absent, an error when it holds
// another type or another count.
func perToken[T any](f *gguf.File, key, want string, vocab int) (values []T, ok bool, err error) {
	a, err := f.Array(key)
	if errors.Is(err, gguf.ErrMissingKey) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("engine: %w", err)
	}
	values, ok = a.Values.([]T)
	if !ok {
		return nil, false, fmt.Errorf("engine: %w", &gguf.KeyTypeError{Key: key, Want: "array of " + want, Got: a})
	}
	if len(values) != vocab {
		return nil, false, fmt.Errorf("engine: %s has %d values for %d tokens", key, len(values), vocab)
	}
	return values, true, nil
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
	return v.eog[id]
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
	case TokenUserDefined:
		return text
	case TokenUnknown:
		if v.bpe == nil {
			return "\u2585" // ▅, as llama.cpp prints it
		}
	case TokenByte:
		var b byte
		if _, err := fmt.Sscanf(text, "<0x%02X>", &b); err == nil {
			return string([]byte{b})
		}
	}
	if v.bpe != nil {
		return bpePiece(text)
	}
	return strings.ReplaceAll(text, spaceMark, " ")
}
