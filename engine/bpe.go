package engine

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// byteRunes is GPT-2's reversible map from bytes to printable runes: the
// printable Latin-1 bytes stand for themselves, the others for U+0100 on.
var byteRunes, runeBytes = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	back := make(map[rune]byte, 256)
	next := rune(256)
	for b := range 256 {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = next
			next++
		}
		fwd[b] = r
		back[r] = byte(b)
	}
	return fwd, back
}()

// merge is what joining two adjacent tokens gives: the merged token and
// the merge's rank (lower merges first).
type merge struct {
	rank   int32
	result int32
}

type tokenPair [2]int32

// bpeModel holds what byte-level BPE needs beyond the token list.
type bpeModel struct {
	pre          pretokenizer
	ignoreMerges bool // a word that is a token is taken whole
	merges       map[tokenPair]merge
	byteToken    [256]int32 // the token of each byte's rune
}

func newBPEModel(v *Vocab, merges []string) (*bpeModel, error) {
	pre, ok := pretokenizers[v.Pre]
	if !ok {
		return nil, unknownPretokenizer(v.Pre)
	}
	m := &bpeModel{pre: pre, merges: make(map[tokenPair]merge, len(merges))}
	switch v.Pre {
	case "llama-bpe", "llama3", "llama-v3", "tekken":
		m.ignoreMerges = true
	}
	for b := range 256 {
		id, ok := v.index[string(byteRunes[b])]
		if !ok {
			return nil, fmt.Errorf("engine: the BPE vocabulary lacks a token for byte %#02x", b)
		}
		m.byteToken[b] = id
	}
	for rank, line := range merges {
		left, right, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("engine: merge %d (%q) is not two tokens", rank, line)
		}
		l, lok := v.index[left]
		r, rok := v.index[right]
		res, resok := v.index[left+right]
		if !lok || !rok || !resok {
			continue // a merge into or from no token can never apply
		}
		if _, dup := m.merges[tokenPair{l, r}]; !dup {
			m.merges[tokenPair{l, r}] = merge{rank: int32(rank), result: res}
		}
	}
	return m, nil
}

// bpeSymbol is a token in a word being merged.
type bpeSymbol struct {
	id         int32
	prev, next int
	dead       bool
}

// bpeCandidate is a possible merge of adjacent symbols.
type bpeCandidate struct {
	left, right int
	rank        int32
	result      int32
	leftID      int32
	rightID     int32
}

// encodeBPE appends the tokens of raw text (no special tokens in it).
func (v *Vocab) encodeBPE(out []int32, text string) []int32 {
	m := v.bpe
	rs := []rune(text)
	var word []byte
	var mapped []rune
	var syms []bpeSymbol
	// Lowest rank first, then leftmost.
	h := minHeap[bpeCandidate]{less: func(a, b bpeCandidate) bool {
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return a.left < b.left
	}}
	m.pre.split(rs, func(w []rune) {
		word = word[:0]
		for _, r := range w {
			word = utf8.AppendRune(word, r)
		}
		mapped = mapped[:0]
		for _, b := range word {
			mapped = append(mapped, byteRunes[b])
		}
		if m.ignoreMerges {
			if id, ok := v.index[string(mapped)]; ok {
				out = append(out, id)
				return
			}
		}
		syms = syms[:0]
		for i, b := range word {
			syms = append(syms, bpeSymbol{id: m.byteToken[b], prev: i - 1, next: i + 1})
		}
		syms[len(syms)-1].next = -1
		h.reset()
		try := func(l, r int) {
			if l < 0 || r < 0 {
				return
			}
			if mg, ok := m.merges[tokenPair{syms[l].id, syms[r].id}]; ok {
				h.push(bpeCandidate{left: l, right: r, rank: mg.rank, result: mg.result, leftID: syms[l].id, rightID: syms[r].id})
			}
		}
		for i := 1; i < len(syms); i++ {
			try(i-1, i)
		}
		for h.len() > 0 {
			c := h.pop()
			l, r := &syms[c.left], &syms[c.right]
			if l.dead || r.dead || l.next != c.right || l.id != c.leftID || r.id != c.rightID {
				continue // outdated
			}
			l.id = c.result
			r.dead = true
			l.next = r.next
			if r.next >= 0 {
				syms[r.next].prev = c.left
			}
			try(l.prev, c.left)
			try(c.left, l.next)
		}
		for i := 0; i >= 0; i = syms[i].next {
			out = append(out, syms[i].id)
		}
	})
	return out
}

// bpePiece returns the bytes a byte-level BPE token stands for.
func bpePiece(text string) string {
	b := make([]byte, 0, len(text))
	for _, r := range text {
		if c, ok := runeBytes[r]; ok {
			b = append(b, c)
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return string(b)
}
