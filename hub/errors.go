package hub

import (
	"errors"
	"fmt"
)

// Errors the package's errors wrap, for errors.Is.
var (
	// ErrBadName: a string that is not a model name (see ParseName).
	ErrBadName = errors.New("hub: not a model name")
	// ErrRepoNotFound: the Hub has no such repository, or it is private
	// and the token (if any) cannot see it.
	ErrRepoNotFound = errors.New("hub: repository not found")
	// ErrRevisionNotFound: the repository has no such branch or commit.
	ErrRevisionNotFound = errors.New("hub: revision not found")
	// ErrEntryNotFound: the repository has no such file.
	ErrEntryNotFound = errors.New("hub: file not found")
	// ErrGated: the repository is gated and the token has not been granted it.
	ErrGated = errors.New("hub: gated repository")
	// ErrUnauthorized: the Hub refused the token.
	ErrUnauthorized = errors.New("hub: token refused")
	// ErrNoMatch: no GGUF file of the repository matches the tag or file asked for.
	ErrNoMatch = errors.New("hub: no matching model file")
	// ErrAmbiguous: several models of the repository match the tag.
	ErrAmbiguous = errors.New("hub: several model files match")
	// ErrNotCached: the model is not in the cache.
	ErrNotCached = errors.New("hub: not in the cache")
	// ErrChecksum: a downloaded file does not hash to what the Hub listed.
	ErrChecksum = errors.New("hub: checksum mismatch")
	// ErrInconsistent: the Hub's answers about one file disagree (size,
	// hash or commit), or a server broke the HTTP contract it announced.
	ErrInconsistent = errors.New("hub: inconsistent answer")
	// ErrStalled: no byte arrived for the stall timeout, attempt after attempt.
	ErrStalled = errors.New("hub: download stalled")
)

// A StatusError is an HTTP error answer from the Hub or its CDN. It wraps
// the sentinel that the Hub's X-Error-Code (or the status) stands for.
type StatusError struct {
	Method  string
	URL     string
	Status  int
	Code    string // X-Error-Code, when the Hub sent one
	Message string // X-Error-Message, or the body's "error"
	Kind    error  // ErrRepoNotFound, ErrGated, … or nil
}

func (e *StatusError) Error() string {
	what := fmt.Sprintf("%s %s: %d", e.Method, e.URL, e.Status)
	if e.Message != "" {
		what += " (" + e.Message + ")"
	}
	switch e.Kind {
	case nil:
		return "hub: " + what
	case ErrRepoNotFound:
		what += ": a private or gated repository needs HF_TOKEN"
	case ErrGated:
		what += ": accept its conditions on its page on the Hub, and set HF_TOKEN"
	case ErrUnauthorized:
		what += ": check HF_TOKEN"
	}
	return fmt.Sprintf("%v: %s", e.Kind, what)
}

func (e *StatusError) Unwrap() error { return e.Kind }

// A ChecksumError reports a downloaded file whose hash is not the one the
// Hub listed. The download was discarded; the cache is as it was.
type ChecksumError struct {
	File      string // path in the repository
	Algorithm string // "sha256", or "git-sha1" for a file outside LFS
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("hub: %s: %s is %s, the hub lists %s: the download was discarded, nothing in the cache changed",
		e.File, e.Algorithm, e.Got, e.Want)
}

func (e *ChecksumError) Unwrap() error { return ErrChecksum }
