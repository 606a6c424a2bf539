package engine

// Encode tokenizes text. With addSpecial, BOS (and EOS) are added where
// the vocabulary asks for them; a text that begins with BOS's own text
// ("<s>") parsed as that token gets no second one. With parseSpecial, the text of control
// tokens ("</s>", "[INST]", "<|eot_id|>") becomes those tokens, as a chat
// template needs; without it such text is ordinary text, so raw user input
// cannot inject them. User-defined tokens are always matched.
func (v *Vocab) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	out, _ := v.encode(text, addSpecial, parseSpecial, -1)
	return out
}

// EncodePrompt tokenizes a prompt for a context with room positions free,
// as Encode does, and refuses one that does not fit (CheckPrompt). It
// stops as soon as the count passes room: a prompt far longer than the
// context costs what the context can hold, not what the prompt holds.
func (v *Vocab) EncodePrompt(text string, addSpecial, parseSpecial bool, room int) ([]int32, error) {
	out, over := v.encode(text, addSpecial, parseSpecial, max(room, 0))
	n, atLeast := len(out), over > 0
	if atLeast {
		n = over
	}
	if err := checkPrompt(n, atLeast, room); err != nil {
		return nil, err
	}
	return out, nil
}

// encode tokenizes text. With limit ≥ 0 it stops once the text is sure to
// have more than limit tokens, and returns as over a count it has at least
// (more than limit); over is 0 when the whole text was tokenized.
func (v *Vocab) encode(text string, addSpecial, parseSpecial bool, limit int) (out []int32, over int) {
	sc := v.specials.scan(text, parseSpecial)
	if addSpecial && v.AddBOS && v.BOS >= 0 {
		if at, n, id := sc.next(0); !(at == 0 && n > 0 && id == v.BOS) {
			out = append(out, v.BOS)
		}
	}
	// passes reports whether the tokens so far, and at least those of the
	// n bytes of raw text still to tokenize, pass the limit.
	passes := func(n int) (int, bool) {
		least := len(out) + v.leastTokens(n)
		return least, limit >= 0 && least > limit
	}
	prevSpecial := true // SentencePiece puts a space before text that starts the input or follows a special token
	raw := 0            // the start of the raw text not yet tokenized
	for pos := 0; ; {
		at, n, id := sc.next(pos)
		if least, ok := passes(at - raw); ok {
			return out, least
		}
		if n == 0 && at < len(text) {
			pos = at // no special token yet: the raw text goes on
			continue
		}
		if at > raw {
			if v.bpe != nil {
				out = v.encodeBPE(out, text[raw:at])
			} else {
				out = v.encodeSPM(out, text[raw:at], v.AddSpacePrefix && prevSpecial)
			}
			prevSpecial = false
		}
		if n == 0 {
			break
		}
		out = append(out, id)
		prevSpecial = true
		raw, pos = at+n, at+n
	}
	if addSpecial && v.AddEOS && v.EOS >= 0 {
		out = append(out, v.EOS)
	}
	if limit >= 0 && len(out) > limit {
		return out, len(out)
	}
	return out, 0
}

// leastTokens is a number of tokens that n bytes of raw text have at
// least: no token stands for more bytes than its text has, so n over the
// longest token's length, when every byte has a token to fall back on
// (else a byte may give no token at all, and the bound is 0).
func (v *Vocab) leastTokens(n int) int {
	if n <= 0 || v.longest == 0 || !v.everyByte {
		return 0
	}
	return (n + v.longest - 1) / v.longest
}
