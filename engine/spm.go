package engine

import "unicode/utf8"

// spaceMark is SentencePiece's visible space, U+2581.
const spaceMark = "\u2581"

// spmSymbol is a run of text in the merge list: bytes [start, start+n),
// linked to its neighbours; n is 0 once merged into its left neighbour.
type spmSymbol struct {
	start, n   int
	prev, next int
}

// spmBigram is a candidate merge of symbols left and right (adjacent when
// pushed), whose joined text is a token of the given score and size.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// encodeSPM is SentencePiece's BPE as llama.cpp runs it: spaces become
// U+2581 (with one in front when the model adds a space prefix), the text
// starts as one symbol per character, and the adjacent pair whose union is
// the best-scoring token is merged until no pair is a token. A symbol that
// is no token falls back to byte tokens.
func (v *Vocab) encodeSPM(out []int32, text string, spacePrefix bool) []int32 {
	buf := make([]byte, 0, len(text)+len(text)/2+3)
	if spacePrefix {
		buf = append(buf, spaceMark...)
	}
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' {
			buf = append(buf, spaceMark...)
		} else {
			buf = append(buf, text[i])
		}
	}
	syms := make([]spmSymbol, 0, len(buf))
	for i := 0; i < len(buf); {
		_, n := utf8.DecodeRune(buf[i:])
		syms = append(syms, spmSymbol{start: i, n: n, prev: len(syms) - 1, next: len(syms) + 1})
		i += n
	}
	syms[len(syms)-1].next = -1

	// Best score first, then leftmost.
	h := minHeap[spmBigram]{less: func(a, b spmBigram) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return a.left < b.left
	}}
	try := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		id, ok := v.index[string(buf[l.start:l.start+l.n+r.n])]
		if !ok {
			return
		}
		h.push(spmBigram{left: left, right: right, score: v.Scores[id], size: l.n + r.n})
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for h.len() > 0 {
		b := h.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // outdated: one side has merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	for i := 0; i >= 0; i = syms[i].next {
		s := syms[i]
		piece := buf[s.start : s.start+s.n]
		if id, ok := v.index[string(piece)]; ok {
			out = append(out, id)
			continue
		}
		for _, c := range piece {
			if id := v.bytes[c]; id >= 0 {
				out = append(out, id)
			} else if v.UNK >= 0 {
				out = append(out, v.UNK)
			}
		}
	}
	return out
}
