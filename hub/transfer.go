package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A transfer downloads one file into its segments, in parallel.
type transfer struct {
	p       *Puller
	repo    string
	commit  string
	file    RepoFile
	meter   Meter
	fetched atomic.Int64

	mu  sync.Mutex
	loc location
}

// errNoRanges: the server answered a range request with the whole file.
var errNoRanges = errors.New("hub: the server ignores byte ranges")

// run fetches every segment's missing bytes; it returns once all are on
// disk, or with the first error that retrying did not cure.
func (t *transfer) run(ctx context.Context, segs []*segment) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(segs))
	for _, s := range segs {
		go func() {
			err := t.segment(ctx, s, false)
			if err != nil {
				cancel() // one failure stops the others: what they have is kept
			}
			errs <- err
		}()
	}
	var first error
	for range segs {
		if err := <-errs; err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	return first
}

// whole fetches the file in one stream from its first byte, for a server
// that ignores ranges.
func (t *transfer) whole(ctx context.Context, s *segment) error {
	return t.segment(ctx, s, true)
}

// segment fetches what s lacks, retrying after transient failures: a
// dropped connection, a stall, a 5xx or 429. It gives up after
// p.retries() attempts in a row that brought no byte.
func (t *transfer) segment(ctx context.Context, s *segment, whole bool) error {
	if s.left() == 0 {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	barren := 0
	for s.left() > 0 {
		before := s.have
		err := t.get(ctx, f, s, whole)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *StatusError
		isStatus := errors.As(err, &se)
		switch {
		case errors.Is(err, errNoRanges), errors.Is(err, ErrInconsistent):
			return err
		case isStatus && (se.Status == http.StatusForbidden || se.Status == http.StatusUnauthorized ||
			se.Status == http.StatusNotFound || se.Status == http.StatusGone):
			// A signed CDN URL expires: ask the Hub for a new one, once
			// per attempt without progress.
			if barren > 0 {
				return err
			}
			if rerr := t.refresh(ctx); rerr != nil {
				return rerr
			}
		case isStatus && se.Status != http.StatusTooManyRequests && se.Status < 500:
			return err
		}
		if s.have > before {
			barren = 0
		} else {
			barren++
		}
		if barren >= t.p.retries() {
			return fmt.Errorf("hub: %s: bytes %d to %d: %d attempts without a byte: %w", t.file.Path, s.start+s.have, s.end-1, barren, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(t.p.backoff(barren)):
		}
	}
	return nil
}

// get sends one request for the bytes s lacks and appends what comes to f.
func (t *transfer) get(ctx context.Context, f *os.File, s *segment, whole bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.mu.Lock()
	loc := t.loc
	t.mu.Unlock()
	from, to := s.start+s.have, s.end-1
	h := http.Header{"Accept-Encoding": {"identity"}}
	if whole {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		s.have, from = 0, 0
	} else {
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
	}
	resp, err := t.p.Client.do(ctx, http.MethodGet, loc.URL, h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case whole && resp.StatusCode == http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != t.file.Size {
			return fmt.Errorf("%w: GET %s: %d bytes, the hub lists %d", ErrInconsistent, loc.URL, resp.ContentLength, t.file.Size)
		}
	case !whole && resp.StatusCode == http.StatusPartialContent:
		a, b, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || a != from || b != to || total != t.file.Size {
			return fmt.Errorf("%w: GET %s bytes=%d-%d: Content-Range %q (the file has %d bytes)",
				ErrInconsistent, loc.URL, from, to, resp.Header.Get("Content-Range"), t.file.Size)
		}
	case !whole && resp.StatusCode == http.StatusOK:
		return errNoRanges
	default:
		return statusError(resp)
	}
	stall := t.p.stall()
	var stalled atomic.Bool
	timer := time.AfterFunc(stall, func() { stalled.Store(true); cancel() })
	defer timer.Stop()
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			timer.Reset(stall)
			if int64(n) > s.left() {
				return fmt.Errorf("%w: GET %s: more bytes than bytes=%d-%d", ErrInconsistent, loc.URL, from, to)
			}
			if _, werr := f.Write(buf[:n]); werr != nil {
				return fmt.Errorf("hub: %w", werr)
			}
			s.have += int64(n)
			t.fetched.Add(int64(n))
			t.meter.Add(int64(n))
		}
		switch {
		case errors.Is(err, io.EOF):
			if s.left() > 0 {
				return fmt.Errorf("hub: GET %s: %w after %d bytes", loc.URL, io.ErrUnexpectedEOF, s.start+s.have-from)
			}
			return nil
		case err != nil && stalled.Load():
			return fmt.Errorf("%w: no byte of %s for %v", ErrStalled, t.file.Path, stall)
		case err != nil:
			return fmt.Errorf("hub: GET %s: %w", loc.URL, err)
		}
	}
}

// refresh asks the resolve URL again where the file is.
func (t *transfer) refresh(ctx context.Context) error {
	loc, err := t.p.Client.resolve(ctx, t.repo, t.commit, t.file.Path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.loc = loc
	t.mu.Unlock()
	return nil
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL".
func parseContentRange(s string) (first, last, total int64, ok bool) {
	r, found := strings.CutPrefix(s, "bytes ")
	span, size, found2 := strings.Cut(r, "/")
	a, b, found3 := strings.Cut(span, "-")
	if !found || !found2 || !found3 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(size, 10, 64)
	return first, last, total, err1 == nil && err2 == nil && err3 == nil && first <= last && last < total
}
