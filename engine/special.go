package engine

import (
	"slices"
	"strings"
)

// specialTokens finds control and user-defined tokens in text: at the
// leftmost position where one starts, the longest one (control tokens
// count only when asked for).
//
// It costs time linear in the text whatever the vocabulary. The tokens'
// texts, reversed, make an Aho–Corasick automaton; run backwards over the
// text, its state at each position names the longest token that starts
// there. The text is scanned in windows, so that a caller that stops early
// (a prompt already longer than the context) has scanned little more than
// it used: each window of w positions scans at most w + maxLen − 1 bytes,
// and windows are at least maxLen long.
type specialTokens struct {
	ids     []int32 // per pattern: its token
	lens    []int   // per pattern: its length in bytes
	maxLen  int     // the longest pattern
	anyUser bool    // some pattern is user-defined (matched without control)

	root [256]int32       // transitions out of the root, state 0 (0: none)
	next map[uint64]int32 // the other transitions: state<<8 | byte
	fail []int32          // per state: the state of its longest proper suffix
	// outAll and outUser name, per state, the longest pattern (−1: none)
	// that is a suffix of the state's string: among all patterns, and among
	// user-defined ones only.
	outAll, outUser []int32
}

// reverse returns s with its bytes in reverse order.
func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

// specialWindow is the fewest positions a window of the scan covers.
const specialWindow = 4096

func newSpecialTokens(v *Vocab) specialTokens {
	s := specialTokens{next: map[uint64]int32{}, fail: []int32{0}}
	seen := map[string]bool{}
	var control []bool
	for id, t := range v.Tokens {
		typ := v.Types[id]
		if t == "" || (typ != TokenControl && typ != TokenUserDefined) || seen[t] {
			continue // the first token of a text is the one matched
		}
		seen[t] = true
		s.ids = append(s.ids, int32(id))
		s.lens = append(s.lens, len(t))
		s.maxLen = max(s.maxLen, len(t))
		control = append(control, typ == TokenControl)
		s.anyUser = s.anyUser || typ == TokenUserDefined
	}
	// The trie of the reversed texts, each state's children listed (first
	// child, next sibling, the byte into it) for the breadth-first pass.
	// Texts sorted share with the one before them all the path they share
	// with any before them, so a text only adds the states past that: no
	// state is looked up twice, whatever the texts share.
	revs := make([]string, len(s.ids))
	for p, id := range s.ids {
		revs[p] = reverse(v.Tokens[id])
	}
	order := make([]int, len(revs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(revs[a], revs[b]) })
	terminal := []int32{-1}
	firstChild, sibling, label := []int32{-1}, []int32{-1}, []byte{0}
	path := []int32{0} // the states of the previous text's path, root first
	prev := ""
	for _, p := range order {
		t := revs[p]
		shared := 0
		for shared < len(t) && shared < len(prev) && t[shared] == prev[shared] {
			shared++
		}
		path = path[:shared+1]
		for _, c := range []byte(t[shared:]) {
			st := path[len(path)-1]
			u := int32(len(s.fail))
			s.fail = append(s.fail, 0)
			terminal = append(terminal, -1)
			firstChild = append(firstChild, -1)
			sibling = append(sibling, firstChild[st])
			label = append(label, c)
			firstChild[st] = u
			if st == 0 {
				s.root[c] = u
			} else {
				s.next[uint64(st)<<8|uint64(c)] = u
			}
			path = append(path, u)
		}
		terminal[path[len(t)]] = int32(p)
		prev = t
	}
	// Failure links and outputs, breadth first: a state's failure state is
	// shallower, so done before it.
	s.outAll = make([]int32, len(s.fail))
	s.outUser = make([]int32, len(s.fail))
	s.outAll[0], s.outUser[0] = -1, -1
	queue := []int32{0}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		for u := firstChild[st]; u >= 0; u = sibling[u] {
			queue = append(queue, u)
			if st != 0 {
				f := s.fail[st]
				for f != 0 && s.child(f, label[u]) == 0 {
					f = s.fail[f]
				}
				s.fail[u] = s.child(f, label[u])
			}
			s.outAll[u], s.outUser[u] = s.outAll[s.fail[u]], s.outUser[s.fail[u]]
			if p := terminal[u]; p >= 0 {
				s.outAll[u] = p
				if !control[p] {
					s.outUser[u] = p
				}
			}
		}
	}
	return s
}

// child is the state st goes to on byte c, 0 when none.
func (s *specialTokens) child(st int32, c byte) int32 {
	if st == 0 {
		return s.root[c]
	}
	return s.next[uint64(st)<<8|uint64(c)]
}

// scan starts a scan of text for special tokens; control tokens count
// only with control set.
func (s *specialTokens) scan(text string, control bool) *specialScan {
	sc := &specialScan{s: s, text: text, out: s.outAll}
	if !control {
		sc.out = s.outUser
	}
	if len(s.ids) == 0 || (!control && !s.anyUser) {
		sc.none = true
	}
	return sc
}

// A specialScan finds the special tokens of one text in order.
type specialScan struct {
	s    *specialTokens
	text string
	out  []int32 // s.outAll or s.outUser
	none bool    // no token can match

	lo, hi  int     // the window whose longest tokens are known
	longest []int32 // per position of the window: pattern + 1, 0 none
	steps   int     // transitions looked up, for tests of the cost
}

// next returns the first special token at or after pos within the next
// window: its offset, length and id. Length 0 means none up to offset
// (the window's end, or the text's), where the caller asks again.
func (sc *specialScan) next(pos int) (at, n int, id int32) {
	if sc.none || pos >= len(sc.text) {
		return len(sc.text), 0, 0
	}
	if pos >= sc.hi {
		sc.fill(pos)
	}
	for p := pos; p < sc.hi; p++ {
		if k := sc.longest[p-sc.lo]; k > 0 {
			return p, sc.s.lens[k-1], sc.s.ids[k-1]
		}
	}
	return sc.hi, 0, 0
}

// fill finds the longest token starting at each position of the window
// from lo: the automaton runs backwards from the window's end plus the
// longest token, far enough for every token starting in the window.
func (sc *specialScan) fill(lo int) {
	s := sc.s
	w := max(specialWindow, s.maxLen)
	sc.lo, sc.hi = lo, min(len(sc.text), lo+w)
	if sc.longest == nil {
		sc.longest = make([]int32, w)
	}
	end := min(len(sc.text), sc.hi+s.maxLen-1)
	st := int32(0)
	for p := end - 1; p >= lo; p-- {
		c := sc.text[p]
		for {
			sc.steps++
			if u := s.child(st, c); u != 0 {
				st = u
				break
			}
			if st == 0 {
				break
			}
			st = s.fail[st]
		}
		if p < sc.hi {
			sc.longest[p-lo] = sc.out[st] + 1
		}
	}
}
