package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"

	"github.com/urfave/cli/v2"
)

// An exitError ends strata with its code, after its message on stderr
// (none when empty).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// interruptedCode is the exit code of a command Ctrl-C ended, as shells
// give a process SIGINT ended: 128 + 2.
const interruptedCode = 130

// errInterrupted ends a command Ctrl-C stopped, once what it had done is
// printed.
var errInterrupted = &exitError{code: interruptedCode, msg: "interrupted"}

// interrupts routes Ctrl-C (SIGINT): while something is generated, to
// the cancel of that generation; otherwise to idle. A second Ctrl-C
// during one generation calls again, which run takes as "quit now".
type interrupts struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	idle   func()
	again  func()
	fires  int // Ctrl-Cs during the current generation
	any    bool
	ch     chan os.Signal
	done   chan struct{}
}

// watchInterrupts is run's handling: Ctrl-C before
// generation has started (loading, connecting) or a second one during it
// exits with 130 at once; the first during generation stops it, and the
// command prints what it generated and exits with 130.
func watchInterrupts() *interrupts {
	quit := func() {
		fmt.Fprintln(os.Stderr, "\nstrata: interrupted")
		os.Exit(interruptedCode)
	}
	return newInterrupts(quit, quit)
}

// newInterrupts starts routing Ctrl-C: idle is called for one that comes
// while nothing is generated, again for a second one during a
// generation (nil: ignored).
func newInterrupts(idle, again func()) *interrupts {
	i := &interrupts{idle: idle, again: again, ch: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(i.ch, os.Interrupt)
	go func() {
		for {
			select {
			case <-i.ch:
				i.mu.Lock()
				switch {
				case i.cancel == nil:
					if i.idle != nil {
						i.idle()
					}
				case i.fires > 0 && i.again != nil:
					i.again()
				default:
					i.fires++
					i.any = true
					i.cancel()
				}
				i.mu.Unlock()
			case <-i.done:
				return
			}
		}
	}()
	return i
}

// set routes Ctrl-C to cancel, the cancel of a generation starting (nil:
// it ended).
func (i *interrupts) set(cancel context.CancelFunc) {
	i.mu.Lock()
	i.cancel, i.fires = cancel, 0
	i.mu.Unlock()
}

// fired reports whether a Ctrl-C has stopped a generation.
func (i *interrupts) fired() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.any
}

// stop ends the routing: Ctrl-C is the default again.
func (i *interrupts) stop() {
	signal.Stop(i.ch)
	close(i.done)
}

// escaped processes the escapes of a command-line text as llama.cpp's -e
// does (\n, \r, \t, \', \", \\ and \xNN; another backslash stays), unless
// --no-escape or --escape=false.
func escaped(c *cli.Context, s string) string {
	if c.Bool("no-escape") || !c.Bool("escape") {
		return s
	}
	return processEscapes(s)
}

func processEscapes(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '\'', '"', '\\':
			out = append(out, s[i])
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					out = append(out, byte(v))
					i += 2
					break
				}
			}
			out = append(out, '\\', 'x')
		default:
			out = append(out, '\\', s[i])
		}
	}
	return string(out)
}
