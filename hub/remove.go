package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Removed is what Remove took out of the cache.
type Removed struct {
	Model    CachedModel
	Links    int   // snapshot links removed (one per part and snapshot)
	Blobs    int   // blobs no other link referenced
	Freed    int64 // their bytes
	RepoGone bool  // the repository's folder went too, holding nothing else
	RepoDir  string
	Kept     []string // blobs kept: another snapshot file links them
}

// Remove takes the model name stands for out of the cache: its links in
// every snapshot, the blobs nothing else links, the folders left empty,
// and the repository's folder when no snapshot is left.
func (c Cache) Remove(name Name) (Removed, error) {
	m, err := c.Find(name)
	if err != nil {
		return Removed{}, err
	}
	r := Removed{Model: m, RepoDir: c.RepoDir(m.Repo)}
	snapRoot := filepath.Join(r.RepoDir, "snapshots")
	commits, err := c.snapshots(m.Repo)
	if err != nil {
		return r, err
	}
	candidates := map[string]bool{} // blobs the removed links pointed at
	for _, commit := range commits {
		for _, part := range m.Model.Parts {
			p := c.snapshotPath(m.Repo, commit, part.Path)
			target, err := os.Readlink(p)
			if err != nil {
				continue
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			if err := os.Remove(p); err != nil {
				return r, fmt.Errorf("hub: %w", err)
			}
			r.Links++
			candidates[filepath.Clean(target)] = true
			removeEmptyDirs(filepath.Dir(p), snapRoot)
		}
	}
	linked, err := linkedBlobs(snapRoot)
	if err != nil {
		return r, err
	}
	for blob := range candidates {
		if linked[blob] {
			r.Kept = append(r.Kept, blob)
			continue
		}
		st, err := os.Stat(blob)
		if err != nil {
			continue
		}
		if err := os.Remove(blob); err != nil {
			return r, fmt.Errorf("hub: %w", err)
		}
		r.Blobs++
		r.Freed += st.Size()
	}
	if left, _ := os.ReadDir(snapRoot); len(left) == 0 {
		if err := os.RemoveAll(r.RepoDir); err != nil {
			return r, fmt.Errorf("hub: %w", err)
		}
		os.RemoveAll(filepath.Join(c.Dir, ".locks", filepath.Base(r.RepoDir)))
		r.RepoGone = true
	}
	return r, nil
}

// linkedBlobs is the set of files the links under root point at.
func linkedBlobs(root string) (map[string]bool, error) {
	linked := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		linked[filepath.Clean(target)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return linked, nil
}

// removeEmptyDirs removes dir and its parents while they are empty, up to
// and including stop's children.
func removeEmptyDirs(dir, stop string) {
	for dir != stop && len(dir) > len(stop) {
		if os.Remove(dir) != nil { // fails unless empty
			return
		}
		dir = filepath.Dir(dir)
	}
}
