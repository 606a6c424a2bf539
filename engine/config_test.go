package engine_test

import (
	"bytes"
	"strings"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// TestConfigRefuses: metadata that is missing, inconsistent or absurd is
// refused by name before anything is allocated.
func TestConfigRefuses(t *testing.T) {
	base := map[string]any{
		"general.architecture":                   "llama",
		"llama.block_count":                      uint32(2),
		"llama.embedding_length":                 uint32(256),
		"llama.feed_forward_length":              uint32(512),
		"llama.attention.head_count":             uint32(4),
		"llama.attention.head_count_kv":          uint32(2),
		"llama.vocab_size":                       uint32(100),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
	}
	cases := []struct {
		key  string
		v    any
		want string
	}{
		{"general.architecture", "falcon", `unsupported architecture "falcon" (supported: llama)`},
		{"llama.embedding_length", uint32(1 << 24), "embedding_length is 16777216 (want 1 to 65536)"},
		{"llama.block_count", uint32(0), "block_count is 0"},
		{"llama.attention.head_count_kv", uint32(3), "llama.attention.head_count_kv 3 does not divide llama.attention.head_count 4"},
		{"llama.vocab_size", uint32(1 << 30), "vocab_size is 1073741824"},
		{"llama.rope.dimension_count", uint32(7), "llama.rope.dimension_count 7 does not fit head size 64"},
		{"llama.attention.head_count", uint32(6), "llama.attention.head_count 6 does not divide llama.embedding_length 256"},
		{"llama.rope.scaling.type", "yarn", `rope scaling "yarn" is not supported (supported: none, linear)`},
		{"llama.attention.layer_norm_rms_epsilon", float32(-1), "RMSNorm epsilon -1"},
		{"llama.embedding_length", "wide", `holds string, want integer`},
	}
	for _, c := range cases {
		w := &gguf.Writer{}
		for k, v := range base {
			w.Set(k, v)
		}
		w.Set(c.key, c.v)
		var buf bytes.Buffer
		w.WriteTo(&buf)
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		_, err = engine.ConfigFrom(f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %v: %v, want an error with %q", c.key, c.v, err, c.want)
		}
	}
}
