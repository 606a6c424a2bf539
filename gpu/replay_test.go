//go:build cgo

package gpu_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"strata/engine"
	"strata/gpu"
)

type stats interface {
	Stats() (recordings, submits int)
}

// TestDecodeReplays checks that decode steps after the first resubmit the
// recorded command buffer instead of recording anew, and still compute
// the right thing.
func TestDecodeReplays(t *testing.T) {
	b := openGPU(t)
	frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := frag.NewSession(64)
	logits := make([]float32, frag.Config.Vocab)
	if err := s.Eval(logits, []int32{1, 9038, 2501}); err != nil {
		t.Fatal(err)
	}
	if err := s.Eval(logits, []int32{263}); err != nil {
		t.Fatal(err)
	}
	rec0, sub0 := b.(stats).Stats()
	for _, tok := range []int32{931, 29892, 727, 471} {
		if err := s.Eval(logits, []int32{tok}); err != nil {
			t.Fatal(err)
		}
	}
	rec, sub := b.(stats).Stats()
	if rec != rec0 || sub != sub0+4 {
		t.Fatalf("4 decode steps made %d recordings and %d submits; want 0 and 4", rec-rec0, sub-sub0)
	}
}

// TestBatchInvariance checks that on the Vulkan backend too a prompt
// computed as one batch, in chunks and token by token gives the same bits.
func TestBatchInvariance(t *testing.T) {
	b := openGPU(t)
	tokens := []int32{1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 19964, 1058}
	n := len(tokens)
	var runs [][]float32
	for _, c := range []struct{ batch, step int }{{0, n}, {5, n}, {1, 1}} {
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: c.batch})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := frag.NewSession(n)
		out := make([]float32, n*frag.Config.Vocab)
		for i := 0; i < n; i += c.step {
			j := min(i+c.step, n)
			if err := frag.Forward(out[i*frag.Config.Vocab:j*frag.Config.Vocab], s, engine.Batch{Tokens: tokens[i:j], AllLogits: true}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		runs = append(runs, out)
	}
	for i := 1; i < len(runs); i++ {
		if !slices.Equal(runs[0], runs[i]) {
			t.Errorf("run %d differs from the one-batch run", i)
		}
	}
}

// TestPipelineCache checks that a second start finds the pipelines the
// first one compiled.
func TestPipelineCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipelines.bin")
	for run := range 2 {
		b, err := gpu.New(gpu.Options{Device: -1, PipelineCache: path})
		if err != nil {
			t.Skip(err)
		}
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := frag.NewSession(8)
		if err := s.Eval(make([]float32, frag.Config.Vocab), []int32{1, 2}); err != nil {
			t.Fatal(err)
		}
		b.Close()
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 {
			t.Fatalf("run %d: no pipeline cache written: %v", run, err)
		}
	}
}

// TestLogitsGrowth checks that decoding goes on right after a batch of
// all logits replaced (and freed) the one-row logits that earlier decode
// steps were recorded with: the same bits as a session that never asked
// for all logits.
func TestLogitsGrowth(t *testing.T) {
	b := openGPU(t)
	prompt := []int32{1, 9038, 2501, 263}
	run := func(all bool) []float32 {
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := frag.NewSession(64)
		defer s.Close()
		vocab := frag.Config.Vocab
		logits := make([]float32, vocab)
		if all {
			for _, tok := range prompt[:3] { // recorded, then replayed
				if err := s.Eval(logits, []int32{tok}); err != nil {
					t.Fatal(err)
				}
			}
			s.Truncate(0)
			out := make([]float32, len(prompt)*vocab)
			if err := frag.Forward(out, s, engine.Batch{Tokens: prompt, AllLogits: true}); err != nil {
				t.Fatal(err)
			}
		} else if err := s.Eval(logits, prompt); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []int32{931, 29892} {
			if err := s.Eval(logits, []int32{tok}); err != nil {
				t.Fatal(err)
			}
		}
		return logits
	}
	if !slices.Equal(run(true), run(false)) {
		t.Error("logits after a batch of all logits differ")
	}
}
