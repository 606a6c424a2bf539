package engine

import "strings"

// Decode returns the text of tokens. Control tokens (BOS, EOS) stand for
// no text; the space a SentencePiece model put in front of the text is
// removed again, so Decode(Encode(s)) is s.
func (v *Vocab) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(v.Piece(id))
	}
	s := b.String()
	if v.AddSpacePrefix {
		s = strings.TrimPrefix(s, " ")
	}
	return s
}

// A TextStream turns generated tokens into text as they come. A character
// whose UTF-8 bytes are spread over several byte tokens is held back until
// it is complete, so every string it returns is valid UTF-8 unless the
// model produced invalid bytes (Flush returns those as they are).
type TextStream struct {
	v       *Vocab
	pending []byte
}

// NewTextStream starts a stream of the text that follows a prompt.
func (v *Vocab) NewTextStream() *TextStream {
	return &TextStream{v: v, pending: make([]byte, 0, 16)}
}

// Add returns the text that token completes, possibly empty.
func (t *TextStream) Add(id int32) string {
	t.pending = append(t.pending, t.v.Piece(id)...)
	n := completePrefix(t.pending)
	out := string(t.pending[:n])
	t.pending = append(t.pending[:0], t.pending[n:]...)
	return out
}

// Flush returns whatever is still held back.
func (t *TextStream) Flush() string {
	out := string(t.pending)
	t.pending = t.pending[:0]
	return out
}

// completePrefix returns the length of b without a trailing incomplete
// (but so far valid) UTF-8 sequence.
func completePrefix(b []byte) int {
	for back := 1; back <= min(3, len(b)); back++ {
		c := b[len(b)-back]
		if c < 0x80 {
			return len(b) // ASCII: nothing incomplete after it
		}
		if c >= 0xC0 { // a leading byte: does its sequence fit?
			need := 2
			if c >= 0xF0 {
				need = 4
			} else if c >= 0xE0 {
				need = 3
			}
			if need > back {
				return len(b) - back
			}
			return len(b)
		}
	}
	return len(b)
}
