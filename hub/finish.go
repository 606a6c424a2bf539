package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
)

// finish appends the downloaded ranges to base.incomplete in order (each
// removed once appended and synced, so an interruption here loses
// nothing), checks the whole file's hash against what the Hub listed, and
// renames it to the blob. A file whose hash differs is removed.
func finish(blob string, segs []*segment, f RepoFile) error {
	main := blob + ".incomplete"
	out, err := os.OpenFile(main, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	for _, s := range segs[1:] {
		if err := appendFile(out, s.path); err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	algo, got, err := hashFile(main, f)
	if err != nil {
		return err
	}
	if want, _ := blobName(f); got != want {
		os.Remove(main)
		return &ChecksumError{File: f.Path, Algorithm: algo, Want: want, Got: got}
	}
	if err := os.Rename(main, blob); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// appendFile copies the file at path to the end of out, syncs out, and
// removes the file.
func appendFile(out *os.File, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	_, err = io.Copy(out, in)
	in.Close()
	if err == nil {
		err = out.Sync()
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// hashFile hashes a downloaded file as the Hub names it: sha256 for an
// LFS object, the git blob hash (sha1 of "blob SIZE\0" and the bytes)
// otherwise.
func hashFile(path string, f RepoFile) (algo, sum string, err error) {
	in, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("hub: %w", err)
	}
	defer in.Close()
	var h hash.Hash
	if f.SHA256 != "" {
		algo, h = "sha256", sha256.New()
	} else {
		algo, h = "git-sha1", sha1.New()
		st, err := in.Stat()
		if err != nil {
			return "", "", fmt.Errorf("hub: %w", err)
		}
		io.WriteString(h, "blob "+strconv.FormatInt(st.Size(), 10)+"\x00")
	}
	if _, err := io.Copy(h, in); err != nil {
		return "", "", fmt.Errorf("hub: %s: %w", path, err)
	}
	return algo, hex.EncodeToString(h.Sum(nil)), nil
}
