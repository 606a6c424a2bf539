package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"strata/engine"
)

// A model file's identity is the sha256 of its bytes: what 'strata split'
// records as the manifest's source, and what peers serving layers of the
// same model must agree on. It is computed once: a file in the hub cache
// is named by it already (its blob, checked against the Hub's sha256 when
// it was pulled), and for any other file it is kept in strata's cache
// ($XDG_CACHE_HOME/strata/sha256, else ~/.cache/strata/sha256), valid
// while the file keeps its size and modification time.
//
// A cheaper identity (the header and tensor table, or a sample of the
// weights) was not chosen: two fine-tunes of one base model in one
// quantization have the same header and table, and peers serving their
// layers would mix them into a route without any error. Against a hostile
// member nothing a peer reports is proof (it may report any sha256): the
// identity only keeps honest peers of different models apart, and
// 'strata verify' and --verify-rate check what peers compute.

// sumEntry is a cached sha256, valid for a file of this size and time.
type sumEntry struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// modelSHA256 returns the sha256 of the model file at path, from the hub
// cache's blob name or strata's cache where it can, else hashing the file
// (and caching the result).
func modelSHA256(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	if name := filepath.Base(real); filepath.Base(filepath.Dir(real)) == "blobs" && isHexSHA256(name) {
		return name, nil
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	entryPath := ""
	if dir, err := os.UserCacheDir(); err == nil {
		key := sha256.Sum256([]byte(real))
		entryPath = filepath.Join(dir, "strata", "sha256", hex.EncodeToString(key[:16])+".json")
		var e sumEntry
		if b, err := os.ReadFile(entryPath); err == nil && json.Unmarshal(b, &e) == nil &&
			e.Path == real && e.Size == st.Size() && e.ModTime == st.ModTime().UnixNano() && isHexSHA256(e.SHA256) {
			return e.SHA256, nil
		}
	}
	start := time.Now()
	sum, err := engine.HashFile(real)
	if err != nil {
		return "", err
	}
	slog.Info("hashed the model file once", "file", filepath.Base(real), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	if entryPath != "" {
		b, _ := json.Marshal(sumEntry{Path: real, Size: st.Size(), ModTime: st.ModTime().UnixNano(), SHA256: sum})
		if err := writeAtomic(entryPath, b); err != nil {
			slog.Debug("the model file's sha256 is not cached", "err", err)
		}
	}
	return sum, nil
}

// writeAtomic writes b to path through a temporary file beside it.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// isHexSHA256 reports whether s is a sha256 as hub blobs are named: 64
// lowercase hex digits.
func isHexSHA256(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
