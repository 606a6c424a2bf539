package hub

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress shows downloads as they go.
type Progress interface {
	// Start shows a file of size bytes, have of them already on disk.
	Start(file string, size, have int64) Meter
	// Wait returns once everything shown is drawn.
	Wait()
}

// A Meter counts one file's bytes; safe for concurrent use.
type Meter interface {
	Add(n int64)
	Done(err error)
}

// NewProgress shows bars with speed and ETA when w is a terminal, and
// otherwise logs one line per file to log.
func NewProgress(w *os.File, log *slog.Logger) Progress {
	if st, err := w.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return newBars(w)
	}
	return &logProgress{log: log}
}

// logProgress logs each file when it ends.
type logProgress struct{ log *slog.Logger }

func (p *logProgress) Start(file string, size, have int64) Meter {
	return &logMeter{log: p.log, file: file, size: size, have: have, start: time.Now()}
}

func (p *logProgress) Wait() {}

type logMeter struct {
	log        *slog.Logger
	file       string
	size, have int64
	got        atomic.Int64
	start      time.Time
	once       sync.Once
}

func (m *logMeter) Add(n int64) { m.got.Add(n) }

func (m *logMeter) Done(err error) {
	m.once.Do(func() {
		took := time.Since(m.start)
		got := m.got.Load()
		attrs := []any{"file", m.file, "size", m.size, "fetched", got, "resumed_from", m.have,
			"took", took.Round(time.Millisecond), "speed", Speed(got, took)}
		if err != nil {
			m.log.Warn("download stopped", attrs...) // the error is the caller's to report
			return
		}
		m.log.Info("downloaded", attrs...)
	})
}

// Speed formats bytes per second as MiB/s.
func Speed(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB/s", float64(n)/d.Seconds()/(1<<20))
}

// bars draws one mpb bar per file.
type bars struct{ p *mpb.Progress }

func newBars(w *os.File) *bars {
	return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond))}
}

func (b *bars) Start(file string, size, have int64) Meter {
	bar := b.p.AddBar(size,
		mpb.PrependDecorators(
			decor.Name(shorten(file, 40), decor.WCSyncSpaceR),
			decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.OnAbort(decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace), "stopped"),
			decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), "done"),
		),
	)
	bar.SetCurrent(have)
	m := &barMeter{bar: bar, stop: make(chan struct{}), stopped: make(chan struct{})}
	go m.feed()
	return m
}

func (b *bars) Wait() { b.p.Wait() }

// barMeter feeds the bar what was added since the last tick, so that the
// speed and ETA are of all the parallel ranges together.
type barMeter struct {
	bar     *mpb.Bar
	pending atomic.Int64
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func (m *barMeter) Add(n int64) { m.pending.Add(n) }

func (m *barMeter) feed() {
	defer close(m.stopped)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-m.stop:
			m.bar.IncrInt64(m.pending.Swap(0))
			return
		case now := <-t.C:
			m.bar.EwmaIncrInt64(m.pending.Swap(0), now.Sub(last))
			last = now
		}
	}
}

func (m *barMeter) Done(err error) {
	m.once.Do(func() {
		close(m.stop)
		<-m.stopped
		if err != nil {
			m.bar.Abort(false)
			return
		}
		m.bar.SetTotal(-1, true)
	})
}

// shorten keeps the end of a long name, where the quantization is.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return s
}
