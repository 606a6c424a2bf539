package engine

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
	sc := v.specials.scan(text, parseSpecial)
	prevSpecial := true // SentencePiece puts a space before text that starts the input or follows a special token
	raw := 0            // the start of the raw text not yet tokenized
	for pos := 0; ; {
		at, n, id := sc.next(pos)
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
	return out
}
