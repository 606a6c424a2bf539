package api

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/internal/testseed"
)

// tinySessions opens the tiny model on the CPU and n sessions of context
// positions on one fragment.
func tinySessions(t testing.TB, n, context int) []Stack {
	t.Helper()
	f, err := gguf.Open(filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New(cpu.Options{Threads: 2})
	t.Cleanup(func() { b.Close(); f.Close() })
	frag, err := engine.NewFragment(f, b, engine.FragmentOptions{Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	var stacks []Stack
	for range n {
		s, err := frag.NewSession(context)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stacks = append(stacks, s)
	}
	return stacks
}

// TestBatchStepper checks that a batched step gives every sequence the
// logits of the same step one by one, bit for bit, over steps of random
// prompt chunks and tokens on random slots; and that a sequence that
// cannot run (its context is full) fails alone, the others going on.
func TestBatchStepper(t *testing.T) {
	const slots, context = 5, 160 // 12 steps of at most 10 tokens fit
	batched, alone := tinySessions(t, slots, context), tinySessions(t, slots, context)
	bs, ok := newBatchStepper(batched)
	if !ok {
		t.Fatal("sessions of one fragment do not batch")
	}
	serial := serialStepper{stacks: alone}
	rng := testseed.New(t)
	vocab := batched[0].VocabSize()
	failed := 0
	for step := range 12 {
		var a, b []Seq
		n := 1 + rng.IntN(slots)
		if step == 11 {
			n = slots // slot 0 among them, asking for too much
		}
		for _, slot := range rng.Perm(slots)[:n] {
			k := 1
			if rng.IntN(3) == 0 {
				k = 1 + rng.IntN(10)
			}
			if step == 11 && slot == 0 {
				k = context // cannot fit
			}
			tokens := make([]int32, k)
			for i := range tokens {
				tokens[i] = int32(rng.IntN(vocab))
			}
			a = append(a, Seq{Slot: slot, Tokens: tokens, Logits: make([]float32, vocab)})
			b = append(b, Seq{Slot: slot, Tokens: tokens, Logits: make([]float32, vocab)})
		}
		bs.Step(a)
		serial.Step(b)
		for i := range a {
			if (a[i].Err == nil) != (b[i].Err == nil) {
				t.Fatalf("step %d slot %d: batched error %v, alone %v", step, a[i].Slot, a[i].Err, b[i].Err)
			}
			if a[i].Err != nil {
				failed++
				if a[i].Slot != 0 || !errors.Is(a[i].Err, engine.ErrContextFull) {
					t.Errorf("step %d slot %d: %v, want ErrContextFull", step, a[i].Slot, a[i].Err)
				}
				continue
			}
			for v := range vocab {
				if math.Float32bits(a[i].Logits[v]) != math.Float32bits(b[i].Logits[v]) {
					t.Fatalf("step %d slot %d logit %d: %v batched, %v alone", step, a[i].Slot, v, a[i].Logits[v], b[i].Logits[v])
				}
			}
		}
		for s := range slots {
			if batched[s].Pos() != alone[s].Pos() {
				t.Fatalf("step %d slot %d: at %d batched, %d alone", step, s, batched[s].Pos(), alone[s].Pos())
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d sequences failed, want 1", failed)
	}
}

// TestBatchStepperChoice: only sessions of one whole-model fragment
// batch; other stacks step one by one.
func TestBatchStepperChoice(t *testing.T) {
	if _, ok := newBatchStepper([]Stack{&fakeStack{vocab: 32}}); ok {
		t.Error("a stack that is not a session batches")
	}
	two := append(tinySessions(t, 1, 8), tinySessions(t, 1, 8)...)
	if _, ok := newBatchStepper(two); ok {
		t.Error("sessions of two fragments batch")
	}
}
