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

	var h bigramHeap
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
	for len(h) > 0 {
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

// bigramHeap is a max-heap of bigrams: best score first, then leftmost.
type bigramHeap []spmBigram

func (h bigramHeap) less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	return h[i].left < h[j].left
}

func (h *bigramHeap) push(b spmBigram) {
	*h = append(*h, b)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *bigramHeap) pop() spmBigram {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
