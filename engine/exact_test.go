package engine_test

import (
	"slices"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

// TestEveryTypeAgainstExact runs a model of each type the CPU computes,
// every matrix of that type, against the float64 reference.
func TestEveryTypeAgainstExact(t *testing.T) {
	tokens := []int32{1, 299, 0, 150, 17, 17, 42, 7, 256, 3}
	for _, typ := range cpu.Supported() {
		t.Run(typ.String(), func(t *testing.T) {
			worst, err := testmodel.WorstAgainstExact(cpuBackend(t), testmodel.OneType(typ), tokens, 4)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v: worst row NMSE %.3g over %d rows", typ, worst, len(tokens))
			if !(worst <= 1e-9) {
				t.Errorf("%v: worst row NMSE %.3g > 1e-9", typ, worst)
			}
		})
	}
}

func TestSecondShapeAgainstExact(t *testing.T) {
	// Its matrices mix every type the CPU computes (the norms are F32).
	built, err := testmodel.Build(testmodel.SecondShape)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := gguf.Parse(built)
	if err != nil {
		t.Fatal(err)
	}
	has := map[gguf.TensorType]int{}
	for _, ti := range bf.Tensors {
		has[ti.Type]++
	}
	for _, typ := range cpu.Supported() {
		if has[typ] == 0 {
			t.Errorf("SecondShape has no %v tensor", typ)
		}
	}
	tokens := []int32{1, 999, 0, 500, 17, 17, 17, 256, 3, 800, 42, 7, 7, 650, 12, 999, 100, 1, 2, 3, 4, 5, 6, 7, 8}
	worst, err := testmodel.WorstAgainstExact(cpuBackend(t), testmodel.SecondShape, tokens, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst row NMSE %.3g over %d rows", worst, len(tokens))
	if !(worst <= 1e-9) {
		t.Errorf("worst row NMSE %.3g > 1e-9", worst)
	}

	// Token by token gives the same bits as the batch.
	data, err := testmodel.Build(testmodel.SecondShape)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := engine.NewFragment(f, cpuBackend(t), engine.FragmentOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	n, vocab := len(tokens), frag.Config.Vocab
	s, _ := frag.NewSession(n)
	batch := make([]float32, n*vocab)
	if err := frag.Forward(batch, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		t.Fatal(err)
	}
	s2, _ := frag.NewSession(n)
	one := make([]float32, vocab)
	for i, tok := range tokens {
		if err := frag.Forward(one, s2, engine.Batch{Tokens: []int32{tok}}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one, batch[i*vocab:(i+1)*vocab]) {
			t.Fatalf("row %d: token-by-token logits differ from the batch", i)
		}
	}
}
