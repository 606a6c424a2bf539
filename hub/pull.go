package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// A Puller downloads models into a cache.
type Puller struct {
	Client      *Client
	Cache       Cache
	Progress    Progress      // nil: one log line per file
	Log         *slog.Logger  // nil: slog.Default()
	Connections int           // parallel ranges per file; 0: 4
	MinPart     int64         // the smallest range given its own connection; 0: 1 MiB
	Stall       time.Duration // a request that brings no byte this long is tried again; 0: 30 s
	Retries     int           // attempts in a row without a byte before giving up; 0: 5
	Backoff     time.Duration // the first wait before trying again (doubling, at most 8 s); 0: 500 ms
}

func (p *Puller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func (p *Puller) progress() Progress {
	if p.Progress != nil {
		return p.Progress
	}
	return &logProgress{log: p.log()}
}

func (p *Puller) conns() int {
	if p.Connections > 0 {
		return p.Connections
	}
	return 4
}

func (p *Puller) minPart() int64 {
	if p.MinPart > 0 {
		return p.MinPart
	}
	return 1 << 20
}

func (p *Puller) stall() time.Duration {
	if p.Stall > 0 {
		return p.Stall
	}
	return 30 * time.Second
}

func (p *Puller) retries() int {
	if p.Retries > 0 {
		return p.Retries
	}
	return 5
}

func (p *Puller) backoff(attempt int) time.Duration {
	d := p.Backoff
	if d <= 0 {
		d = 500 * time.Millisecond
	}
	for range attempt - 1 {
		if d *= 2; d >= 8*time.Second {
			return 8 * time.Second
		}
	}
	return d
}

// Pulled is what Pull did.
type Pulled struct {
	Model   CachedModel
	Fetched int64 // bytes that came over the network this time
	Reused  int64 // bytes that were in the cache already: whole files and resumed prefixes
}

// Pull downloads the model name stands for, from the repository's main
// branch, into the cache (see the package doc), and returns it as the
// cache now holds it. Files already there are not fetched again.
func (p *Puller) Pull(ctx context.Context, name Name) (*Pulled, error) {
	rev, err := p.Client.Revision(ctx, name.Repo, "main")
	if err != nil {
		return nil, err
	}
	m, err := Select(rev.Files, name)
	if err != nil {
		return nil, err
	}
	out := &Pulled{Model: CachedModel{Name: ShortName(name.Repo, rev.Files, m), Repo: name.Repo, Commit: rev.Commit, Model: m}}
	for _, f := range m.Parts {
		etag, err := blobName(f)
		if err != nil {
			return nil, err
		}
		fetched, reused, err := p.file(ctx, rev, f, etag)
		out.Fetched += fetched
		out.Reused += reused
		if err != nil {
			return out, err
		}
	}
	// Every file is in place: only now do the links appear and main move,
	// so that a failure leaves the cache as it was.
	for _, f := range m.Parts {
		etag, _ := blobName(f)
		path, err := p.Cache.link(name.Repo, rev.Commit, f.Path, etag)
		if err != nil {
			return out, err
		}
		out.Model.Paths = append(out.Model.Paths, path)
	}
	if err := p.Cache.writeRef(name.Repo, "main", rev.Commit); err != nil {
		return out, err
	}
	return out, nil
}

// blobName is the name huggingface_hub gives a file's blob: its LFS
// sha256, or its git blob hash for a file outside LFS.
func blobName(f RepoFile) (string, error) {
	switch {
	case f.Size < 0:
		return "", fmt.Errorf("%w: the hub lists no size for %s", ErrInconsistent, f.Path)
	case f.SHA256 != "":
		return f.SHA256, nil
	case isHex(f.BlobID, 40):
		return f.BlobID, nil
	}
	return "", fmt.Errorf("%w: the hub lists no hash for %s", ErrInconsistent, f.Path)
}

// file brings one file's blob into the cache, unless it is there.
func (p *Puller) file(ctx context.Context, rev *Revision, f RepoFile, etag string) (fetched, reused int64, err error) {
	blob := p.Cache.blobPath(rev.Repo, etag)
	if st, err := os.Stat(blob); err == nil && st.Size() == f.Size {
		p.log().Debug("in the cache", "file", f.Path, "blob", blob)
		return 0, f.Size, nil
	}
	if err := os.MkdirAll(p.Cache.blobPath(rev.Repo, ""), 0o755); err != nil {
		return 0, 0, fmt.Errorf("hub: %w", err)
	}
	unlock, err := lock(ctx, p.Cache.lockPath(rev.Repo, etag), func() {
		p.log().Info("waiting for another download of the same file", "file", f.Path)
	})
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	if st, err := os.Stat(blob); err == nil && st.Size() == f.Size { // the other download finished it
		return 0, f.Size, nil
	}
	loc, err := p.Client.resolve(ctx, rev.Repo, rev.Commit, f.Path)
	if err != nil {
		return 0, 0, err
	}
	if err := checkLocation(loc, rev.Commit, f, etag); err != nil {
		return 0, 0, err
	}
	segs, err := planSegments(blob, f.Size, p.conns(), p.minPart())
	if err != nil {
		return 0, 0, err
	}
	for _, s := range segs {
		reused += s.have
	}
	t := &transfer{p: p, repo: rev.Repo, commit: rev.Commit, file: f, loc: loc}
	t.meter = p.progress().Start(f.Path, f.Size, reused)
	err = t.run(ctx, segs)
	if errors.Is(err, errNoRanges) {
		p.log().Info("the server ignores byte ranges: fetching the whole file in one stream", "file", f.Path)
		if segs, err = restartWhole(blob, f.Size); err == nil {
			reused = 0
			err = t.whole(ctx, segs[0])
		}
	}
	if err == nil {
		err = finish(blob, segs, f)
	}
	t.meter.Done(err)
	return t.fetched.Load(), reused, err
}

// checkLocation holds the resolve answer to what the API listed.
func checkLocation(loc location, commit string, f RepoFile, etag string) error {
	switch {
	case loc.Commit == "":
		return fmt.Errorf("%w: %s answered %s without X-Repo-Commit: is HF_ENDPOINT a Hugging Face hub?", ErrInconsistent, loc.URL, f.Path)
	case loc.Commit != commit:
		return fmt.Errorf("%w: %s: the resolve URL is at commit %s, the file list at %s", ErrInconsistent, f.Path, loc.Commit, commit)
	case loc.ETag != etag:
		return fmt.Errorf("%w: %s: the resolve URL names blob %q, the file list %s", ErrInconsistent, f.Path, loc.ETag, etag)
	case loc.Size >= 0 && loc.Size != f.Size:
		return fmt.Errorf("%w: %s: the resolve URL says %d bytes, the file list %d", ErrInconsistent, f.Path, loc.Size, f.Size)
	}
	return nil
}

// restartWhole drops a download's ranges for one stream from byte 0.
func restartWhole(blob string, size int64) ([]*segment, error) {
	segs, err := planSegments(blob, size, 1, size+1)
	if err != nil {
		return nil, err
	}
	for _, s := range segs[1:] {
		os.Remove(s.path)
	}
	main := segs[0]
	main.end, main.have = size, 0
	return []*segment{main}, nil
}
