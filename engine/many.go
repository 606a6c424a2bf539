package engine

import "fmt"

// A Part is one sequence's share of a ForwardMany: its session, its input
// at the session's next positions, and where its output goes
// (OutputSize(positions, Batch.AllLogits) values, as Forward writes).
type Part struct {
	Session *Session
	Batch   Batch
	Out     []float32
}

// A PartError is a ForwardMany part that failed the checks: nothing was
// computed. Part is its index in the call's parts.
type PartError struct {
	Part int
	Err  error
}

func (e *PartError) Error() string { return fmt.Sprintf("engine: part %d: %v", e.Part, e.Err) }

// Unwrap gives the part's error.
func (e *PartError) Unwrap() error { return e.Err }

// A segment is the rows of one part in one pass of the layers.
type segment struct {
	part int // index into the parts
	from int // the part's first input position in the segment
	row  int // the segment's first row in the pass
	n    int // its rows
	pos  int // the session position of its first row (earlier passes moved the session past from)
}

// ForwardMany runs the parts through the fragment as one batch: their
// rows, concatenated in order, go through every norm, matrix product and
// elementwise step together (the weights are read once for all of them),
// while rotary embedding and attention run per part, at its session's
// positions, on its own KV cache. Each part's output is what Forward
// gives it alone, bit for bit: every operation computes each row the same
// way whatever the other rows are. Passes hold at most the fragment's
// batch of rows, a part cut across passes where needed.
//
// Every part is checked before anything is computed; a part that fails
// the checks fails the whole call, computing nothing. A session appears
// at most once. On an error while computing, each session has advanced
// by the positions of the passes done.
func (f *Fragment) ForwardMany(parts []Part) error {
	if len(parts) == 0 {
		return fmt.Errorf("engine: %w: no parts", ErrBadInput)
	}
	if f.closed {
		return fmt.Errorf("engine: the fragment is closed: %w", ErrClosed)
	}
	asked := 0 // rows whose logits are asked for
	for i := range parts {
		p := &parts[i]
		n := p.Batch.Len(f.Config.Embedding)
		if err := f.check(p.Out, p.Session, &p.Batch, n); err != nil {
			if len(parts) == 1 {
				return fmt.Errorf("engine: %w", err)
			}
			return &PartError{Part: i, Err: err}
		}
		for j := range i {
			if parts[j].Session == p.Session {
				return fmt.Errorf("engine: %w: parts %d and %d share a session", ErrBadInput, j, i)
			}
		}
		if p.Batch.AllLogits {
			asked += n
		} else {
			asked++
		}
	}
	if err := f.prepare(len(parts) > 1, min(asked, f.batch)); err != nil {
		return err
	}
	defer slowDown(slowStart()) // a test-only slower device (-tags faults)
	part, from := 0, 0
	for part < len(parts) {
		f.segs = f.segs[:0]
		rows := 0
		for rows < f.batch && part < len(parts) {
			p := &parts[part]
			n := min(p.Batch.Len(f.Config.Embedding)-from, f.batch-rows)
			f.segs = append(f.segs, segment{part: part, from: from, row: rows, n: n, pos: p.Session.pos})
			rows += n
			if from += n; from == p.Batch.Len(f.Config.Embedding) {
				part, from = part+1, 0
			}
		}
		if err := f.pass(parts, rows); err != nil {
			return err
		}
	}
	return nil
}

// prepare allocates what a call needs before any of its work is queued:
// the scratch of several sequences, and logits for asked rows.
func (f *Fragment) prepare(several bool, asked int) error {
	c := &f.Config
	if several && f.sq == nil {
		var err error
		alloc := func(cols int) Tensor {
			if err != nil {
				return nil
			}
			var t Tensor
			t, err = f.b.NewTensor(f.batch, cols)
			return t
		}
		sq, sk, sv, satt := alloc(c.QueryWidth()), alloc(c.KVWidth()), alloc(c.KVWidth()), alloc(c.QueryWidth())
		if err != nil {
			for _, t := range []Tensor{sq, sk, sv, satt} {
				if t != nil {
					t.Release()
				}
			}
			return fmt.Errorf("engine: allocate the scratch of several sequences: %w", err)
		}
		f.sq, f.sk, f.sv, f.satt = sq, sk, sv, satt
	}
	if f.Last() && f.logits.Rows() < asked {
		t, err := f.b.NewTensor(min(max(asked, 2*f.logits.Rows()), f.batch), c.Vocab)
		if err != nil {
			return fmt.Errorf("engine: allocate logits: %w", err)
		}
		f.logits.Release()
		f.logits = t
	}
	return nil
}

// pass runs the segments of f.segs, m rows in all, through the layers,
// writes their outputs and advances their sessions.
func (f *Fragment) pass(parts []Part, m int) error {
	c := &f.Config
	single := len(f.segs) == 1
	if f.First() {
		tokens := f.tokens[:0]
		for _, sg := range f.segs {
			in := parts[sg.part].Batch.Tokens[sg.from : sg.from+sg.n]
			if single {
				tokens = in
				break
			}
			tokens = append(tokens, in...)
		}
		if !single {
			f.tokens = tokens
		}
		f.b.Embed(f.x, f.embed, tokens)
	} else {
		hidden := f.hidden[:0]
		for _, sg := range f.segs {
			in := parts[sg.part].Batch.Hidden[sg.from*c.Embedding : (sg.from+sg.n)*c.Embedding]
			if single {
				hidden = in
				break
			}
			hidden = append(hidden, in...)
		}
		if !single {
			f.hidden = hidden
		}
		if err := f.b.Write(f.x, hidden); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	// A pass whose output nobody reads needs of its last layer only the
	// keys and values, for the positions after it.
	unread := true
	for _, sg := range f.segs {
		unread = unread && f.cacheOnly(&parts[sg.part].Batch)
	}
	_, writes := f.b.(CacheWriter)
	for i := range f.layers {
		if unread && writes && i == len(f.layers)-1 {
			f.cacheLayer(&f.layers[i], parts, i, m)
			break
		}
		f.layer(&f.layers[i], parts, i, m)
	}
	if err := f.probeErr; err != nil {
		f.probeErr = nil
		return fmt.Errorf("engine: probe: %w", err)
	}
	var err error
	switch {
	case unread:
	case f.Last():
		err = f.logitsOut(parts)
	default:
		for _, sg := range f.segs {
			if f.cacheOnly(&parts[sg.part].Batch) {
				continue
			}
			if err = f.b.Read(parts[sg.part].Out[sg.from*c.Embedding:], f.x, sg.row, sg.n); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	for _, sg := range f.segs {
		parts[sg.part].Session.pos += sg.n
	}
	return nil
}

// logitsOut computes the logits the pass's segments ask for (every row of
// an AllLogits part, the last row of the others once it is in the pass):
// those rows are gathered, then normed and multiplied by the head at
// once, and read into the parts' outputs.
func (f *Fragment) logitsOut(parts []Part) error {
	c := &f.Config
	f.rows = f.rows[:0]
	for _, sg := range f.segs {
		p := &parts[sg.part]
		switch {
		case f.cacheOnly(&p.Batch):
		case p.Batch.AllLogits:
			for r := range sg.n {
				f.rows = append(f.rows, sg.row+r)
			}
		case sg.from+sg.n == p.Batch.Len(c.Embedding):
			f.rows = append(f.rows, sg.row+sg.n-1)
		}
	}
	g := len(f.rows)
	if g == 0 {
		return nil
	}
	gathered := true // the rows are already [0, g)
	for i, r := range f.rows {
		gathered = gathered && r == i
	}
	if gathered {
		f.b.RMSNorm(f.xb, f.x, f.norm, g, c.NormEps)
		f.b.MatMul(f.logits, f.head, f.xb, g)
	} else {
		for i := 0; i < g; {
			j := i + 1 // rows [i, j) are consecutive
			for j < g && f.rows[j] == f.rows[j-1]+1 {
				j++
			}
			f.b.Copy(f.xb, i, f.x, f.rows[i], j-i)
			i = j
		}
		f.b.RMSNorm(f.x, f.xb, f.norm, g, c.NormEps) // x is free once the layers are done
		f.b.MatMul(f.logits, f.head, f.x, g)
	}
	i := 0 // the next row of logits
	for _, sg := range f.segs {
		p := &parts[sg.part]
		var err error
		switch {
		case f.cacheOnly(&p.Batch):
		case p.Batch.AllLogits:
			err = f.b.Read(p.Out[sg.from*c.Vocab:], f.logits, i, sg.n)
			i += sg.n
		case sg.from+sg.n == p.Batch.Len(c.Embedding):
			err = f.b.Read(p.Out, f.logits, i, 1)
			i++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// layer runs one transformer block on the m rows of the pass.
func (f *Fragment) layer(w *layerWeights, parts []Part, index, m int) {
	b, eps := f.b, f.Config.NormEps
	// Attention: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x)).
	b.RMSNorm(f.xb, f.x, w.attnNorm, m, eps)
	b.MatMul(f.q, w.q, f.xb, m)
	b.MatMul(f.k, w.k, f.xb, m)
	b.MatMul(f.v, w.v, f.xb, m)
	for _, sg := range f.segs {
		f.attend(&sg, parts[sg.part].Session.cache, index)
	}
	b.MatMul(f.xb, w.output, f.att, m)
	b.Add(f.x, f.xb, m)
	f.injectFault(index, AfterAttention, m)
	f.observe(index, AfterAttention)
	// Feed-forward: x += Wdown · (silu(Wgate·norm(x)) × Wup·norm(x)).
	b.RMSNorm(f.xb, f.x, w.ffnNorm, m, eps)
	b.MatMul(f.gate, w.gate, f.xb, m)
	b.MatMul(f.up, w.up, f.xb, m)
	b.SwiGLU(f.gate, f.gate, f.up, m)
	b.MatMul(f.xb, w.down, f.gate, m)
	b.Add(f.x, f.xb, m)
	f.injectFault(index, AfterFeedForward, m)
	f.observe(index, AfterFeedForward)
}

// cacheLayer computes of one transformer block what the positions after
// the pass need, on the m rows: the keys and values, stored in each
// segment's cache as layer's Attention stores them. The rows' hidden
// states are left as they were.
func (f *Fragment) cacheLayer(w *layerWeights, parts []Part, index, m int) {
	b, eps := f.b, f.Config.NormEps
	b.RMSNorm(f.xb, f.x, w.attnNorm, m, eps)
	b.MatMul(f.k, w.k, f.xb, m)
	b.MatMul(f.v, w.v, f.xb, m)
	cw := b.(CacheWriter)
	for _, sg := range f.segs {
		cache := parts[sg.part].Session.cache
		if sg.row == 0 {
			b.RoPE(f.k, sg.n, sg.pos, &f.ropeK)
			cw.WriteCache(f.k, f.v, cache, index, sg.pos, sg.n)
			continue
		}
		b.Copy(f.sk, 0, f.k, sg.row, sg.n)
		b.Copy(f.sv, 0, f.v, sg.row, sg.n)
		b.RoPE(f.sk, sg.n, sg.pos, &f.ropeK)
		cw.WriteCache(f.sk, f.sv, cache, index, sg.pos, sg.n)
	}
}

// attend rotates one segment's queries and keys and runs its attention
// on its session's cache, writing rows [sg.row, sg.row+sg.n) of f.att.
// The Backend's RoPE and Attention act on rows from 0, so a segment that
// starts further down is copied to row 0 of the scratch and back.
func (f *Fragment) attend(sg *segment, cache Cache, index int) {
	b := f.b
	if sg.row == 0 {
		b.RoPE(f.q, sg.n, sg.pos, &f.ropeQ)
		b.RoPE(f.k, sg.n, sg.pos, &f.ropeK)
		b.Attention(f.att, f.q, f.k, f.v, cache, index, sg.pos, sg.n, &f.attn)
		return
	}
	b.Copy(f.sq, 0, f.q, sg.row, sg.n)
	b.Copy(f.sk, 0, f.k, sg.row, sg.n)
	b.Copy(f.sv, 0, f.v, sg.row, sg.n)
	b.RoPE(f.sq, sg.n, sg.pos, &f.ropeQ)
	b.RoPE(f.sk, sg.n, sg.pos, &f.ropeK)
	b.Attention(f.satt, f.sq, f.sk, f.sv, cache, index, sg.pos, sg.n, &f.attn)
	b.Copy(f.att, sg.row, f.satt, 0, sg.n)
}
