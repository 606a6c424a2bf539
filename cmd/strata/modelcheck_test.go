package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"strata/engine/testmodel"
	"strata/gguf"
)

// TestBadModelFiles runs model files that strata used to take silently
// (or refuse with a wrong reason): each is refused in one line that
// names the key, the tensor or the block.
func TestBadModelFiles(t *testing.T) {
	small, err := testmodel.Build(smallSpec())
	if err != nil {
		t.Fatal(err)
	}
	q6 := smallSpec()
	q6.Types = map[string]gguf.TensorType{"ffn_down": gguf.Q6_K}
	small6, err := testmodel.Build(q6)
	if err != nil {
		t.Fatal(err)
	}
	f32 := func(x float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)) }
	half := func(h uint16) []byte { return binary.LittleEndian.AppendUint16(nil, h) }
	file := func(name string, data []byte) string { return writeFile(t, name, data) }

	understated := file("understated.gguf", withMetadata(t, small, gguf.KV{Key: "llama.block_count", Value: uint32(2)}))
	overstated := file("overstated.gguf", withMetadata(t, small, gguf.KV{Key: "llama.block_count", Value: uint32(1024)}))
	// general.alignment as a string, by hand: the writer refuses it.
	alignment := appendString(ggufHeader(0, 1), "general.alignment")
	alignment = binary.LittleEndian.AppendUint32(alignment, uint32(gguf.TypeString))
	alignment = appendString(alignment, "32")

	out := filepath.Join(t.TempDir(), "split")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"understated block_count", []string{"run", understated, "-p", "hi"},
			`engine: tensor "blk.2.attn_norm.weight" is of layer 2, but llama.block_count says the model has 2 layers`},
		{"understated block_count, split", []string{"split", understated, "--parts", "2", "-o", out},
			`tensor "blk.2.attn_norm.weight" is of layer 2`},
		{"overstated block_count, split", []string{"split", overstated, "--parts", "2", "-o", out},
			`engine: tensor "blk.4.attn_norm.weight" is missing`},
		{"string bos_token_id", []string{"run", file("bos.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: "1"})), "-p", "hi"},
			`engine: gguf: key "tokenizer.ggml.bos_token_id" holds string, want integer`},
		{"float eos_token_id", []string{"tokenize", file("eos.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: float32(2)})), "hi"},
			`key "tokenizer.ggml.eos_token_id" holds float32, want integer`},
		{"string eot_token_id", []string{"tokenize", file("eot.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.eot_token_id", Value: "x"})), "hi"},
			`key "tokenizer.ggml.eot_token_id" holds string, want integer`},
		{"string add_bos_token", []string{"tokenize", file("addbos.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: "true"})), "hi"},
			`key "tokenizer.ggml.add_bos_token" holds string, want bool`},
		{"scores of the wrong type", []string{"tokenize", file("scores.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.scores", Value: make([]int32, 300)})), "hi"},
			`engine: gguf: key "tokenizer.ggml.scores" holds array of int32, want array of float32`},
		{"token types of the wrong type", []string{"tokenize", file("types.gguf", withMetadata(t, small, gguf.KV{Key: "tokenizer.ggml.token_type", Value: make([]float32, 300)})), "hi"},
			`key "tokenizer.ggml.token_type" holds array of float32, want array of int32`},
		{"string alignment", []string{"inspect", file("align.gguf", alignment)},
			`gguf: key "general.alignment" holds string, want integer`},
		{"NaN norm", []string{"run", file("nan.gguf", patchTensor(t, small, "blk.1.attn_norm.weight", 4*5, f32(float32(math.NaN())))), "-p", "hi"},
			`engine: tensor "blk.1.attn_norm.weight": element 5 is NaN`},
		{"infinite output norm", []string{"run", file("inf.gguf", patchTensor(t, small, "output_norm.weight", 0, f32(float32(math.Inf(1))))), "-p", "hi"},
			`engine: tensor "output_norm.weight": element 0 is +Inf`},
		{"infinite Q4_K d", []string{"run", file("d.gguf", patchTensor(t, small, "blk.0.ffn_up.weight", 3*144, half(0x7c00))), "-p", "hi"},
			`engine: tensor "blk.0.ffn_up.weight": block 3 has scale d = +Inf`},
		{"NaN Q4_K dmin", []string{"run", file("dmin.gguf", patchTensor(t, small, "blk.2.attn_q.weight", 2, half(0x7e01))), "-p", "hi"},
			`engine: tensor "blk.2.attn_q.weight": block 0 has scale dmin = NaN`},
		{"infinite Q6_K d", []string{"run", file("q6.gguf", patchTensor(t, small6, "blk.3.ffn_down.weight", 210+208, half(0xfc00))), "-p", "hi"},
			`engine: tensor "blk.3.ffn_down.weight": block 1 has scale d = -Inf`},
		{"NaN norm, split", []string{"split", file("nan2.gguf", patchTensor(t, small, "blk.3.ffn_norm.weight", 0, f32(float32(math.NaN())))), "--parts", "2", "-o", out},
			`engine: tensor "blk.3.ffn_norm.weight": element 0 is NaN`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, errs, code := strata(t, c.args...)
			errorLine(t, stdout, errs, code, c.want)
		})
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err == nil {
		t.Errorf("a refused split wrote %s", filepath.Join(out, "manifest.json"))
	}
	// The model itself passes every check.
	if _, errs, code := strata(t, "run", file("small.gguf", small), "-p", "hi", "-n", "2"); code != 0 {
		t.Errorf("the unaltered model: exit %d: %s", code, errs)
	}
}
