package main

import (
	"os"
	"time"

	"github.com/chzyer/readline"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"strata/engine"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return readline.IsTerminal(int(f.Fd())) }

// A meter draws one task's progress on stderr, when stderr is a terminal,
// and nothing otherwise (a nil *meter, whose methods do nothing): logs,
// pipes and tests see no control characters.
type meter struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

// meterUnit says how a meter counts.
type meterUnit int

const (
	meterBytes  meterUnit = iota // sizes: "3.1 GiB / 6.9 GiB"
	meterTokens                  // "512 / 2048 tokens"
)

// newMeter starts a meter of total units named name ("loading
// model.gguf"), or returns nil when stderr is not a terminal.
func newMeter(name string, total int64, unit meterUnit) *meter {
	if total <= 0 || !isTerminal(os.Stderr) {
		return nil
	}
	p := mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(32), mpb.WithRefreshRate(100*time.Millisecond))
	counters := decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)
	if unit == meterTokens {
		counters = decor.CountersNoUnit("%d / %d tokens", decor.WCSyncSpace)
	}
	bar := p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), counters),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), "done")))
	return &meter{p: p, bar: bar}
}

// set moves the meter to done units.
func (m *meter) set(done int64) {
	if m != nil {
		m.bar.SetCurrent(done)
	}
}

// finish completes the meter, leaving its last line on the terminal, and
// waits until it is drawn: what is written next comes after it.
func (m *meter) finish() {
	if m == nil {
		return
	}
	m.bar.SetTotal(-1, true)
	m.p.Wait()
}

// abort stops the meter where it is (the task failed) and waits until
// it is drawn.
func (m *meter) abort() {
	if m == nil {
		return
	}
	m.bar.Abort(false)
	m.p.Wait()
}

// withPromptMeter shows the evaluation of a prompt longer than step
// positions on a meter, when stderr is a terminal: the stack then
// evaluates it in pieces of step positions (the logits are the same bits:
// no batch size changes them), and asks a route of peers for the logits
// of the last piece only.
func withPromptMeter(s engine.Stack, step int) engine.Stack {
	if !isTerminal(os.Stderr) {
		return s
	}
	return &meteredStack{Stack: s, step: max(step, 1)}
}

type meteredStack struct {
	engine.Stack
	step  int
	needs engine.LogitsNeeds
}

// NeedLogits keeps what the next Eval's last position needs.
func (s *meteredStack) NeedLogits(n engine.LogitsNeeds) { s.needs = n }

func (s *meteredStack) Eval(logits []float32, tokens []int32) error {
	ns, needs := s.Stack.(engine.NeedsStack)
	if len(tokens) <= s.step {
		if needs {
			ns.NeedLogits(s.needs)
		}
		return s.Stack.Eval(logits, tokens)
	}
	bar := newMeter("prompt", int64(len(tokens)), meterTokens)
	for i := 0; i < len(tokens); i += s.step {
		j := min(i+s.step, len(tokens))
		if needs {
			n := engine.LogitsNeeds{TopK: 1} // a piece before the last: its logits go unused
			if j == len(tokens) {
				n = s.needs
			}
			ns.NeedLogits(n)
		}
		if err := s.Stack.Eval(logits, tokens[i:j]); err != nil {
			bar.abort()
			return err
		}
		bar.set(int64(j))
	}
	bar.finish()
	return nil
}
