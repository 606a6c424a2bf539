package transport

// Truncate forgets positions from pos on, as engine.Session.Truncate
// does: the next Eval starts at pos, and each peer, given a batch that
// starts before the end of its session, forgets what follows. Each hop's
// history keeps the requests that start before pos (one that runs past it
// is kept whole: the next request cuts the replica's session back too),
// so a replica that takes over later replays exactly the kept positions.
func (r *Route) Truncate(pos int) {
	pos = min(max(pos, 0), r.pos)
	r.pos = pos
	r.tokens = r.tokens[:pos]
	for _, h := range r.hops {
		keep := 0
		for keep < len(h.sent) {
			f, err := parseForward(h.sent[keep])
			if err != nil || f.pos >= pos {
				break
			}
			keep++
		}
		clear(h.sent[keep:])
		h.sent = h.sent[:keep]
		if w := h.witness; w != nil {
			w.mu.Lock() // a catch-up computing the forgotten requests ends first
			w.epoch++
			if w.fed > keep {
				// The witness recomputes from the kept history at the next check.
				w.fed, w.pos, w.want = 0, 0, nil
			}
			w.mu.Unlock()
		}
	}
}
