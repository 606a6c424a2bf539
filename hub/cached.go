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

// A CachedModel is a model found in the cache.
type CachedModel struct {
	Name   string   // REPO:TAG, or REPO:FILE when no tag picks it alone
	Repo   string   // ORG/NAME
	Commit string   // the snapshot its first file is in
	Model  Model    // its files, sizes from the blobs
	Paths  []string // each part's path in its snapshot, first part first
}

// Size is the size of all its parts.
func (m *CachedModel) Size() int64 { return m.Model.Size() }

// cachedFile is a file of a repository's snapshots, with where it is.
type cachedFile struct {
	commit, path string
}

// repoFiles gathers the files of every snapshot of repo whose blob is
// there, each path once: from refs/main's snapshot first, then from the
// newest others.
func (c Cache) repoFiles(repo string) ([]RepoFile, map[string]cachedFile, error) {
	commits, err := c.snapshots(repo)
	if err != nil {
		return nil, nil, err
	}
	var files []RepoFile
	where := map[string]cachedFile{}
	for _, commit := range commits {
		root := filepath.Join(c.RepoDir(repo), "snapshots", commit)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			st, err := os.Stat(p) // through the link: the blob must be there
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return nil
			}
			rel = filepath.ToSlash(rel)
			if _, seen := where[rel]; seen {
				return nil
			}
			where[rel] = cachedFile{commit, p}
			files = append(files, RepoFile{Path: rel, Size: st.Size()})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("hub: %w", err)
		}
	}
	return files, where, nil
}

func (c Cache) cached(repo string, files []RepoFile, where map[string]cachedFile, m Model) CachedModel {
	cm := CachedModel{Name: ShortName(repo, files, m), Repo: repo, Commit: where[m.Path()].commit, Model: m}
	for _, p := range m.Parts {
		cm.Paths = append(cm.Paths, where[p.Path].path)
	}
	return cm
}

// Models lists every GGUF model in the cache, by repository and path.
func (c Cache) Models() ([]CachedModel, error) {
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var out []CachedModel
	for _, e := range entries {
		repo, ok := repoOf(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		files, where, err := c.repoFiles(repo)
		if err != nil {
			return nil, err
		}
		for _, m := range Models(files) {
			out = append(out, c.cached(repo, files, where, m))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Find is the cached model name stands for, chosen as Select chooses
// among the repository's files, without the network.
func (c Cache) Find(name Name) (CachedModel, error) {
	files, where, err := c.repoFiles(name.Repo)
	if err != nil {
		return CachedModel{}, err
	}
	models := Models(files)
	if len(models) == 0 {
		return CachedModel{}, fmt.Errorf("%w: %s (%s): run 'strata pull %s'", ErrNotCached, name, c.Dir, name)
	}
	m, err := Select(files, name)
	if errors.Is(err, ErrNoMatch) {
		var have []string
		for _, m := range models {
			have = append(have, ShortName(name.Repo, files, m))
		}
		return CachedModel{}, fmt.Errorf("%w: %s (%s has %s): run 'strata pull %s'",
			ErrNotCached, name, c.Dir, strings.Join(have, ", "), name)
	}
	if err != nil {
		return CachedModel{}, err
	}
	return c.cached(name.Repo, files, where, m), nil
}
