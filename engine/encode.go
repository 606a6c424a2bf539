package engine

import "slices"

// Encode tokenizes text. With addSpecial, BOS (and EOS) are added where
// the vocabulary asks for them. With parseSpecial, the text of control
// tokens ("</s>", "[INST]", "<|eot_id|>") becomes those tokens, as a chat
// template needs; without it such text is ordinary text, so raw user input
// cannot inject them. User-defined tokens are always matched.
func (v *Vocab) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var out []int32
	if addSpecial && v.AddBOS && v.BOS >= 0 {
		out = append(out, v.BOS)
	}
	prevSpecial := true // SentencePiece puts a space before text that starts the input or follows a special token
	for len(text) > 0 {
		at, n, id := v.specials.find(text, parseSpecial)
		if raw := text[:at]; raw != "" {
			if v.bpe != nil {
				out = v.encodeBPE(out, raw)
			} else {
				out = v.encodeSPM(out, raw, v.AddSpacePrefix && prevSpecial)
			}
			prevSpecial = false
		}
		if n == 0 {
			break
		}
		out = append(out, id)
		prevSpecial = true
		text = text[at+n:]
	}
	if addSpecial && v.AddEOS && v.EOS >= 0 {
		out = append(out, v.EOS)
	}
	return out
}

// specialTokens finds control and user-defined tokens in text: a map
// from text to token, and for each first byte the lengths to try,
// longest first.
type specialTokens struct {
	byText  map[string]int32
	control map[int32]bool
	lengths [256][]int
}

func newSpecialTokens(v *Vocab) specialTokens {
	s := specialTokens{byText: map[string]int32{}, control: map[int32]bool{}}
	for id, t := range v.Tokens {
		typ := v.Types[id]
		if t == "" || (typ != TokenControl && typ != TokenUserDefined) {
			continue
		}
		if _, dup := s.byText[t]; dup {
			continue
		}
		s.byText[t] = int32(id)
		s.control[int32(id)] = typ == TokenControl
		if !slices.Contains(s.lengths[t[0]], len(t)) {
			s.lengths[t[0]] = append(s.lengths[t[0]], len(t))
		}
	}
	for i := range s.lengths {
		slices.SortFunc(s.lengths[i], func(a, b int) int { return b - a })
	}
	return s
}

// find returns the first special token in text: its offset, length and
// id; length 0 when there is none. Control tokens count only with
// control set.
func (s *specialTokens) find(text string, control bool) (at, n int, id int32) {
	if len(s.byText) == 0 {
		return len(text), 0, 0
	}
	for i := 0; i < len(text); i++ {
		for _, l := range s.lengths[text[i]] {
			if i+l > len(text) {
				continue
			}
			if id, ok := s.byText[text[i:i+l]]; ok && (control || !s.control[id]) {
				return i, l, id
			}
		}
	}
	return len(text), 0, 0
}
