package api

import (
	"strings"
	"testing"
)

// TestStopper: stop strings are found however the text is cut into
// pieces; nothing from the stop string on is released, and everything
// before it is, in order.
func TestStopper(t *testing.T) {
	for _, c := range []struct {
		text  string
		stops []string
		want  string
		stop  bool
	}{
		{"hello world, goodbye", []string{"world"}, "hello ", true},
		{"hello world", []string{"xyz"}, "hello world", false},
		{"aaab", []string{"aab"}, "a", true},
		{"one two three", []string{"three", "two"}, "one ", true},
		{"ends with wor", []string{"world"}, "ends with wor", false},
		{"päivää maailma", []string{"ää m"}, "päiv", true},
		{"abc", nil, "abc", false},
	} {
		// Every way of cutting the text into pieces of 1 to 4 bytes.
		for size := 1; size <= 4; size++ {
			s := Stopper{Stops: c.stops}
			var out strings.Builder
			stopped := false
			for i := 0; i < len(c.text) && !stopped; i += size {
				piece, st := s.Add(c.text[i:min(i+size, len(c.text))])
				out.WriteString(piece)
				stopped = st
			}
			if !stopped {
				out.WriteString(s.Flush())
			}
			if out.String() != c.want || stopped != c.stop {
				t.Errorf("%q stops %q in pieces of %d: got %q (stopped %v), want %q (%v)", c.text, c.stops, size, out.String(), stopped, c.want, c.stop)
			}
		}
	}
}
