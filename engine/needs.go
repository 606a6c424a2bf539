package engine

// LogitsNeeds says which logits the sampler will look at for the next
// token: the TopK largest in TopK's order (ties to the lowest id, NaN as
// −∞), plus those of the Also tokens; TopK 0 means all of them. A stack
// that pays to carry logits (a route of peers) may then carry only those
// and give the others as −∞; the token drawn is the same.
type LogitsNeeds struct {
	TopK int
	Also []int32
}

// A NeedsStack is a Stack that can use LogitsNeeds.
type NeedsStack interface {
	Stack
	// NeedLogits applies to the next Eval.
	NeedLogits(LogitsNeeds)
}

// Needs returns what Sample will look at given the tokens so far.
//
// Greedy decoding (and top-p 0) needs the largest logit; sampling with top-k needs the
// k largest; without top-k every logit counts. A repetition penalty
// above 1 only lowers the recent tokens, so the k largest after it lie
// among the k + (recent tokens) largest before it (TopK's order is total,
// ties included: each token outside those is beaten by k that the
// penalty leaves alone), and the recent tokens themselves must be known.
// A penalty below 1, or a negative frequency or presence penalty, can
// raise any recent token, which the same set also covers: whatever the
// penalties do to the recent tokens, a token outside the set is not
// recent and is beaten by the k others of the set that are not.
func (s *Sampler) Needs(history []int32) LogitsNeeds {
	o := &s.o
	k := o.TopK
	if o.Temperature <= 0 || o.TopP <= 0 {
		k = 1 // greedy, or top-p 0: the best token alone
	}
	if k <= 0 {
		return LogitsNeeds{}
	}
	recent := s.recent(history)
	if len(recent) == 0 {
		return LogitsNeeds{TopK: k}
	}
	also := make([]int32, 0, len(recent))
	for _, id := range recent {
		if id >= 0 && int(id) < len(s.counts) && s.counts[id] == 0 {
			s.counts[id] = 1
			also = append(also, id)
		}
	}
	for _, id := range also {
		s.counts[id] = 0
	}
	return LogitsNeeds{TopK: k + len(also), Also: also}
}

// recent returns the tokens the penalties apply to.
func (s *Sampler) recent(history []int32) []int32 {
	o := &s.o
	repeat := o.RepeatPenalty > 0 && o.RepeatPenalty != 1
	if !repeat && o.FrequencyPenalty == 0 && o.PresencePenalty == 0 || o.RepeatLastN == 0 {
		return nil
	}
	if o.RepeatLastN > 0 && len(history) > o.RepeatLastN {
		return history[len(history)-o.RepeatLastN:]
	}
	return history
}
