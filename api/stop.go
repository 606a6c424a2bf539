package api

import "strings"

// A Stopper finds stop strings in generated text across token
// boundaries (the API's "stop", the CLI's -r). Text that could be the start of a stop string is held back
// until the next piece shows whether it is; a stop string found is never
// released, nor anything after it.
type Stopper struct {
	Stops   []string
	pending string
}

// Add takes the next piece of text and returns what can be released, and
// whether a stop string ended the text.
func (s *Stopper) Add(piece string) (out string, stopped bool) {
	if len(s.Stops) == 0 {
		return piece, false
	}
	s.pending += piece
	first := -1
	for _, st := range s.Stops {
		if i := strings.Index(s.pending, st); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		out, s.pending = s.pending[:first], ""
		return out, true
	}
	hold := 0
	for _, st := range s.Stops {
		for k := min(len(st)-1, len(s.pending)); k > hold; k-- {
			if strings.HasSuffix(s.pending, st[:k]) {
				hold = k
				break
			}
		}
	}
	cut := len(s.pending) - hold
	out, s.pending = s.pending[:cut], s.pending[cut:]
	return out, false
}

// Flush releases what is held back: the text ended without a stop.
func (s *Stopper) Flush() string {
	out := s.pending
	s.pending = ""
	return out
}
