package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A Cache is a Hugging Face hub cache directory (see the package doc).
type Cache struct{ Dir string }

// OpenCache is the cache at DefaultCacheDir. It need not exist yet.
func OpenCache() (Cache, error) {
	d, err := DefaultCacheDir()
	return Cache{Dir: d}, err
}

// RepoDir is the folder of a model repository: models--ORG--NAME.
func (c Cache) RepoDir(repo string) string {
	return filepath.Join(c.Dir, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

// repoOf reads a folder name back into ORG/NAME.
func repoOf(dir string) (string, bool) {
	rest, ok := strings.CutPrefix(dir, "models--")
	if !ok {
		return "", false
	}
	org, name, ok := strings.Cut(rest, "--")
	if !ok || !validRepoPart(org) || !validRepoPart(name) {
		return "", false
	}
	return org + "/" + name, true
}

func (c Cache) blobPath(repo, etag string) string {
	return filepath.Join(c.RepoDir(repo), "blobs", etag)
}

func (c Cache) snapshotPath(repo, commit, file string) string {
	return filepath.Join(c.RepoDir(repo), "snapshots", commit, filepath.FromSlash(file))
}

func (c Cache) lockPath(repo, etag string) string {
	return filepath.Join(c.Dir, ".locks", filepath.Base(c.RepoDir(repo)), etag+".lock")
}

// ReadRef is the commit a ref (main) of repo was at when last pulled.
func (c Cache) ReadRef(repo, ref string) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.RepoDir(repo), "refs", ref))
	if err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	commit := strings.TrimSpace(string(b))
	if !isCommit(commit) {
		return "", fmt.Errorf("%w: %s/refs/%s holds %q, not a commit", ErrInconsistent, c.RepoDir(repo), ref, commit)
	}
	return commit, nil
}

// writeRef records the commit a ref of repo is at, as huggingface_hub
// does (the bare hash, no newline), replacing the file at once.
func (c Cache) writeRef(repo, ref, commit string) error {
	dir := filepath.Join(c.RepoDir(repo), "refs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, ref), []byte(commit))
}

// link points snapshots/COMMIT/FILE at blobs/ETAG with a relative link,
// replacing whatever link was there.
func (c Cache) link(repo, commit, file, etag string) (string, error) {
	dst := c.snapshotPath(repo, commit, file)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	rel, err := filepath.Rel(filepath.Dir(dst), c.blobPath(repo, etag))
	if err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	if got, err := os.Readlink(dst); err == nil && got == rel {
		return dst, nil
	}
	tmp := dst + ".link-tmp"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("hub: %w", err)
	}
	return dst, nil
}

// snapshots lists the commits of repo's snapshots: the one refs/main
// names first, then the others, newest first.
func (c Cache) snapshots(repo string) ([]string, error) {
	dir := filepath.Join(c.RepoDir(repo), "snapshots")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	main, _ := c.ReadRef(repo, "main")
	type snap struct {
		commit string
		mtime  int64
	}
	var snaps []snap
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		snaps = append(snaps, snap{e.Name(), info.ModTime().UnixNano()})
	}
	sort.Slice(snaps, func(i, j int) bool {
		a, b := snaps[i], snaps[j]
		if (a.commit == main) != (b.commit == main) {
			return a.commit == main
		}
		if a.mtime != b.mtime {
			return a.mtime > b.mtime
		}
		return a.commit < b.commit
	})
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.commit
	}
	return out, nil
}

// writeFileAtomic writes a small file through a temporary one and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}
