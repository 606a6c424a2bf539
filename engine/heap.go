package engine

// A minHeap is a binary heap whose top is the least item by less. Both
// tokenizers keep their merge candidates in one; TopK keeps the best
// logits so far in one, the weakest on top.
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *minHeap[T]) len() int { return len(h.items) }

func (h *minHeap[T]) reset() { h.items = h.items[:0] }

// init orders items, placed in h.items by the caller, into a heap.
func (h *minHeap[T]) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// top returns the least item without taking it out; the heap must not
// be empty.
func (h *minHeap[T]) top() T { return h.items[0] }

func (h *minHeap[T]) push(x T) {
	h.items = append(h.items, x)
	s := h.items
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *minHeap[T]) pop() T {
	s := h.items
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	h.items = s[:last]
	h.down(0)
	return top
}

// replaceTop puts x in the place of the least item: a pop and a push in
// one pass.
func (h *minHeap[T]) replaceTop(x T) {
	h.items[0] = x
	h.down(0)
}

// down sifts the item at i down to its place.
func (h *minHeap[T]) down(i int) {
	s := h.items
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && h.less(s[l], s[m]) {
			m = l
		}
		if r < len(s) && h.less(s[r], s[m]) {
			m = r
		}
		if m == i {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}
