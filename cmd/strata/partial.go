package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"strata/engine"
	"strata/gguf"
	"strata/hub"
	"strata/transport"
)

// A partialModel is a split model's source file held in part, beside its
// manifest: the header and the tensors of the layers this peer was given,
// fetched from peers that serve the whole file and written where they are
// in it (the rest of the file is a hole), so that the layers load from it
// as from the whole file. Every piece is checked as it comes: the header
// against the manifest's header hash, each tensor against the fragments'
// tensor hashes. FILE.json lists the tensors fetched and checked, so that
// a later start fetches only the rest (a tensor cut off midway is fetched
// again from its start).
type partialModel struct {
	m       *engine.Manifest
	path    string            // DIR/SOURCE.partial
	hashes  map[string]string // tensor name → sha256, from the manifest
	id      *transport.Identity
	swarm   transport.Swarm
	stall   time.Duration
	sources func() []string // the peers to fetch from, in the order to try them
}

// fetchStreams is how many tensors a peer fetches at once.
const fetchStreams = 4

// partialState is what FILE.json holds.
type partialState struct {
	SHA256  string   `json:"sha256"` // the source file's
	Header  bool     `json:"header"` // the header was fetched and checked
	Tensors []string `json:"tensors"`
}

// newPartialModel prepares the partial copy of m's source file in dir.
func newPartialModel(m *engine.Manifest, dir string, id *transport.Identity, swarm transport.Swarm, stall time.Duration) (*partialModel, error) {
	if m.Source.HeaderSHA256 == "" || m.Source.HeaderBytes <= 0 {
		return nil, fmt.Errorf("the manifest has no hash of its model's header, which fetching layers checks: split the model again with this strata")
	}
	p := &partialModel{m: m, path: filepath.Join(dir, m.Source.File+".partial"), hashes: map[string]string{},
		id: id, swarm: swarm, stall: stall, sources: func() []string { return nil }}
	for _, fr := range m.Fragments {
		for name, sum := range fr.Tensors {
			p.hashes[name] = sum
		}
	}
	return p, nil
}

// state reads FILE.json; a missing or foreign one, or a file of another
// size, is a fresh start.
func (p *partialModel) state() partialState {
	fresh := partialState{SHA256: p.m.Source.SHA256}
	b, err := os.ReadFile(p.path + ".json")
	if err != nil {
		return fresh
	}
	var s partialState
	if json.Unmarshal(b, &s) != nil || s.SHA256 != p.m.Source.SHA256 {
		return fresh
	}
	if st, err := os.Stat(p.path); err != nil || st.Size() != p.m.Source.Size {
		return fresh
	}
	return s
}

// save writes FILE.json in one rename.
func (p *partialModel) save(s partialState) error {
	b, _ := json.Marshal(s)
	tmp := p.path + ".json.tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p.path+".json")
}

// A fetcher holds the connections of one round of fetching.
type fetcher struct {
	p     *partialModel
	peers map[string]*transport.Peer
}

func (f *fetcher) close() {
	for _, peer := range f.peers {
		peer.Close()
	}
}

// fetch writes bytes [offset, offset+n) of the source file into out at
// offset, from the first peer that sends them all and whose bytes hash to
// want; errs gathers why the others did not.
func (f *fetcher) fetch(ctx context.Context, what string, offset, n int64, want string, out *os.File, meter hub.Meter) error {
	var errs []error
	for _, addr := range f.p.sources() {
		peer := f.peers[addr]
		if peer == nil {
			dctx, cancel := context.WithTimeout(ctx, f.p.stall)
			var err error
			peer, err = transport.Dial(dctx, addr, transport.DialOptions{Identity: f.p.id, Swarm: f.p.swarm})
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				continue
			}
			f.peers[addr] = peer
		}
		h := sha256.New()
		w := &hashingWriter{w: io.NewOffsetWriter(out, offset), h: h, meter: meter}
		got, err := peer.FetchFrom(ctx, f.p.m.Source.SHA256, f.p.m.Source.Size, transport.FetchOptions{Offset: offset, Length: n, Stall: f.p.stall}, w)
		if err == nil && got == n {
			if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
				err = fmt.Errorf("sent bytes whose sha256 is %.12s…, the manifest says %.12s…", sum, want)
			}
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		peer.Close()
		delete(f.peers, addr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("%s: no peer to fetch it from (give --fetch-from ADDRS: peers serving the whole model)", what)
	}
	return fmt.Errorf("%s: no peer sent it: %w", what, errors.Join(errs...))
}

// fetchHeader starts the partial file afresh, the size of the model, and
// fetches the source's header into it.
func (p *partialModel) fetchHeader(ctx context.Context) error {
	out, err := os.OpenFile(p.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := out.Truncate(p.m.Source.Size); err != nil { // a hole the size of the model
		return err
	}
	f := &fetcher{p: p, peers: map[string]*transport.Peer{}}
	defer f.close()
	if err := f.fetch(ctx, "the model's header", 0, p.m.Source.HeaderBytes, p.m.Source.HeaderSHA256, out, nopMeter{}); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return p.save(partialState{SHA256: p.m.Source.SHA256, Header: true})
}

// layers makes sure the partial file, open as file (its header fetched:
// fetchHeader) with the model's layers layers, holds every tensor that
// layers [a.Start, a.End) need, fetching the missing ones, and logs what
// it fetched.
func (p *partialModel) layers(ctx context.Context, file *gguf.File, layers int, a Assignment) error {
	tensors := engine.FragmentTensors(file, a.Start, a.End, a.Start == 0, a.End == layers)
	data := file.DataStart
	s := p.state()
	var missing []*gguf.TensorInfo
	var need, have int64
	for _, t := range tensors {
		if slices.Contains(s.Tensors, t.Name) {
			have += int64(t.Size)
			continue
		}
		if p.hashes[t.Name] == "" {
			return fmt.Errorf("layers %s: the manifest has no hash of tensor %q", a, t.Name)
		}
		missing = append(missing, t)
		need += int64(t.Size)
	}
	if len(missing) == 0 {
		slog.Info("layers held", "layers", a.String(), "file", p.path, "tensors", len(tensors), "fetched", 0, "held", have)
		return nil
	}
	out, err := os.OpenFile(p.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	progress := hub.NewProgress(os.Stderr, slog.Default())
	meter := progress.Start(fmt.Sprintf("layers %s of %s", a, p.m.Source.File), have+need, have)
	start := time.Now()
	// fetchStreams tensors come at once, each worker with connections of
	// its own (a stalled fetch closes its connection); the first failure
	// stops the others, and what was checked is kept.
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan *gguf.TensorInfo)
	var mu sync.Mutex // s and FILE.json
	for range min(fetchStreams, len(missing)) {
		g.Go(func() error {
			f := &fetcher{p: p, peers: map[string]*transport.Peer{}}
			defer f.close()
			for t := range next {
				if err := f.fetch(gctx, fmt.Sprintf("layers %s: tensor %q", a, t.Name), data+int64(t.Offset), int64(t.Size), p.hashes[t.Name], out, meter); err != nil {
					return err
				}
				mu.Lock()
				s.Tensors = append(s.Tensors, t.Name)
				err := p.save(s)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for _, t := range missing {
			select {
			case next <- t:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		meter.Done(err)
		progress.Wait()
		return err
	}
	meter.Done(nil)
	progress.Wait()
	slog.Info("fetched layers", "layers", a.String(), "file", p.path, "tensors", len(missing), "fetched", need, "held", have,
		"ms", time.Since(start).Milliseconds())
	return nil
}

// nopMeter counts nothing: the header is small.
type nopMeter struct{}

func (nopMeter) Add(int64)  {}
func (nopMeter) Done(error) {}
