package testmodel

import (
	"fmt"
	"math"
	"math/rand/v2"

	"strata/engine"
)

// CheckMany runs rounds of random ForwardMany batches on frag (a whole
// model) and compares every logit bit for bit with the same sequences run
// alone: 1 to 8 sessions, each first fed a random prefix alone so that
// they stand at different positions, then in each round a random subset
// in random order, each with a prompt chunk (1 to 12 tokens) or a single
// token, some asking for every position's logits. The solo reference of a
// sequence is one Forward of all its tokens with AllLogits: its rows are
// what any chunking must give. It returns the first difference found.
func CheckMany(frag *engine.Fragment, rng *rand.Rand, rounds int) error {
	vocab := frag.Config.Vocab
	token := func() int32 { return int32(rng.IntN(vocab)) }
	const context = 160
	n := 1 + rng.IntN(8)
	type seq struct {
		s      *engine.Session
		tokens []int32   // every token fed so far
		got    []float32 // logits of each position computed, −0 until then; positions × vocab
		have   []bool    // which positions' logits got holds
	}
	seqs := make([]seq, n)
	defer func() {
		for _, q := range seqs {
			if q.s != nil {
				q.s.Close()
			}
		}
	}()
	record := func(q *seq, pos, rows int, out []float32) {
		for len(q.have) < pos+rows {
			q.have = append(q.have, false)
			q.got = append(q.got, make([]float32, vocab)...)
		}
		for r := range rows {
			copy(q.got[(pos+r)*vocab:(pos+r+1)*vocab], out[r*vocab:(r+1)*vocab])
			q.have[pos+r] = true
		}
	}
	for i := range seqs {
		s, err := frag.NewSession(context)
		if err != nil {
			return err
		}
		seqs[i].s = s
		if k := rng.IntN(20); k > 0 {
			q := &seqs[i]
			q.tokens = make([]int32, k)
			for j := range q.tokens {
				q.tokens[j] = token()
			}
			out := make([]float32, vocab)
			if err := frag.Forward(out, s, engine.Batch{Tokens: q.tokens}); err != nil {
				return err
			}
			record(q, k-1, 1, out)
		}
	}
	type plan struct {
		seq      int
		from, at int // the first token fed; its position
		all      bool
	}
	for round := range rounds {
		var parts []engine.Part
		var plans []plan
		for _, i := range rng.Perm(n)[:1+rng.IntN(n)] {
			q := &seqs[i]
			k := 1
			if rng.IntN(3) == 0 {
				k = 1 + rng.IntN(12)
			}
			k = min(k, context-len(q.tokens))
			if k == 0 {
				continue
			}
			p := plan{seq: i, from: len(q.tokens), at: q.s.Pos(), all: rng.IntN(6) == 0}
			for range k {
				q.tokens = append(q.tokens, token())
			}
			b := engine.Batch{Tokens: q.tokens[p.from:], AllLogits: p.all}
			parts = append(parts, engine.Part{Session: q.s, Batch: b, Out: make([]float32, frag.OutputSize(k, p.all))})
			plans = append(plans, p)
		}
		if len(parts) == 0 {
			continue
		}
		if err := frag.ForwardMany(parts); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		for j, p := range plans {
			q := &seqs[p.seq]
			k := len(parts[j].Batch.Tokens)
			if q.s.Pos() != p.at+k {
				return fmt.Errorf("round %d: sequence %d at %d, want %d", round, p.seq, q.s.Pos(), p.at+k)
			}
			if p.all {
				record(q, p.at, k, parts[j].Out)
			} else {
				record(q, p.at+k-1, 1, parts[j].Out)
			}
		}
	}
	for i := range seqs {
		q := &seqs[i]
		if len(q.tokens) == 0 {
			continue
		}
		s, err := frag.NewSession(context)
		if err != nil {
			return err
		}
		want := make([]float32, len(q.tokens)*vocab)
		err = frag.Forward(want, s, engine.Batch{Tokens: q.tokens, AllLogits: true})
		s.Close()
		if err != nil {
			return err
		}
		for pos, ok := range q.have {
			if !ok {
				continue
			}
			for v := range vocab {
				g, w := q.got[pos*vocab+v], want[pos*vocab+v]
				if math.Float32bits(g) != math.Float32bits(w) {
					return fmt.Errorf("sequence %d of %d, position %d, logit %d: %v batched, %v alone", i, n, pos, v, g, w)
				}
			}
		}
	}
	return nil
}
