package transport

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"strata/engine"
)

// errNoReplica reports a hop whose layers no reachable peer serves: the
// route is rebuilt from what the peers serve now.
var errNoReplica = errors.New("transport: no peer serves the hop's layers")

// rebuildWait bounds how long rebuild waits for the peers to cover every
// layer again: peers that are reassigned switch one after another, and
// in between, the ranges they report may overlap or leave a gap.
const rebuildWait = 5 * time.Second

// rebuild replaces the route's hops by a new chain through the peers it
// knows, as NewRoute chains them from what they serve now, under a new
// session, and computes the session's tokens again through it. The
// kernels are batch-invariant, so the new hops' sessions hold the keys
// and values the old ones did, bit for bit, and the next logits are those
// the old route would have given. The old hops' sessions are ended.
func (r *Route) rebuild() error {
	var fresh *Route
	var err error
	for end := time.Now().Add(rebuildWait); ; {
		fresh, err = NewRoute(r.ctx, r.addrs, r.o)
		if err == nil || !errors.Is(err, ErrNoRoute) || time.Now().After(end) || r.ctx.Err() != nil {
			break
		}
		select {
		case <-r.ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	if fresh.vocab != r.vocab || fresh.embd != r.embd {
		fresh.Close()
		return fmt.Errorf("transport: the peers now serve a model of width %d and %d tokens, not %d and %d", fresh.embd, fresh.vocab, r.embd, r.vocab)
	}
	if fresh.context < len(r.tokens) {
		fresh.Close()
		return fmt.Errorf("transport: %w: the peers serving the layers now hold %d positions, the session %d", engine.ErrContextFull, fresh.context, len(r.tokens))
	}
	if len(r.tokens) > 0 {
		// Only the largest logit is asked for: the session's logits up to
		// here were used already.
		fresh.NeedLogits(engine.LogitsNeeds{TopK: 1})
		if err := fresh.eval(make([]float32, fresh.vocab), r.tokens); err != nil {
			fresh.Close()
			return fmt.Errorf("transport: computing the session's %d positions again: %w", len(r.tokens), err)
		}
	}
	r.caughtUp() // they read the route's shape, which changes here
	old := *r
	r.pool, r.hops, r.session, r.pos = fresh.pool, fresh.hops, fresh.session, fresh.pos
	r.context = min(r.context, fresh.context)
	r.rebuilt++
	for _, h := range r.hops {
		// Stats go on counting where the old hop of the same layers did.
		for _, oh := range old.hops {
			if oh.start == h.start && oh.end == h.end {
				h.stats.Forwards, h.stats.Replaced = h.stats.Forwards+oh.stats.Forwards, oh.stats.Replaced
			}
		}
	}
	r.o.Logger.Warn("route rebuilt from what the peers serve now", "layers", layout(r.hops), "was", layout(old.hops),
		"recomputed", len(r.tokens))
	old.Close() // the old sessions end on the peers that still hold them
	return nil
}

// Rebuilt counts the times the route was rebuilt (see Eval).
func (r *Route) Rebuilt() int { return r.rebuilt }

// layout describes hops' layers as split --layers takes them: "0-1,2-3".
func layout(hops []*hop) string {
	ranges := make([][2]int, len(hops))
	for i, h := range hops {
		ranges[i] = [2]int{h.start, h.end}
	}
	return engine.FormatLayerRanges(ranges)
}

// sameLayout reports whether the routes' hops cover the same layers.
func sameLayout(routes []*Route) bool {
	same := func(a, b *hop) bool { return a.start == b.start && a.end == b.end }
	for _, r := range routes[1:] {
		if !slices.EqualFunc(r.hops, routes[0].hops, same) {
			return false
		}
	}
	return true
}
