// Package hubtest is a Hugging Face Hub on loopback for tests: the API's
// revision endpoint, the resolve URL that redirects to a CDN on another
// host, and the CDN with byte ranges, all with the Hub's headers. It
// counts the bytes the CDN sends, and can stall, cut, corrupt or expire
// downloads. Tests only.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A File is a file of a commit.
type File struct {
	Path string
	Data []byte
	LFS  bool // stored in LFS: resolved by a redirect to the CDN

	sum, blob string // sha256 and git blob hash, set by Publish
}

func (f *File) sha256() string { return f.sum }

// blobID is the git blob hash: of the LFS pointer for an LFS file.
func (f *File) blobID() string { return f.blob }

func (f *File) pointer() string {
	return fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.sum, len(f.Data))
}

// hash sets the file's hashes.
func (f *File) hash() {
	s := sha256.Sum256(f.Data)
	f.sum = hex.EncodeToString(s[:])
	content := f.Data
	if f.LFS {
		content = []byte(f.pointer())
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	f.blob = hex.EncodeToString(h.Sum(nil))
}

type commit struct {
	sha   string
	files []File
	when  time.Time
}

// A Request is one request either server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method, Path  string
	Range         string
	Authorization string
}

// Hub is the fake Hub and its CDN.
type Hub struct {
	API, CDN *httptest.Server

	mu       sync.Mutex
	repos    map[string][]commit // oldest first; the last is main
	gated    map[string]string   // repo → the token that may see it
	corrupt  map[string]int64    // sha256 → offset of a byte the CDN flips
	requests []Request
	expiry   int // URLs issued with an Expires below this are refused
	issued   int
	noRanges bool

	sent       atomic.Int64 // body bytes the CDN sent
	stallAfter atomic.Int64 // once sent reaches it, the CDN holds its answers (0: never)
	cutAfter   atomic.Int64 // once sent reaches it, the CDN drops the connection, once (0: never)
	release    chan struct{}
	active     atomic.Int64 // CDN answers being written
}

// New starts a Hub and its CDN on loopback; Close stops them.
func New() *Hub {
	h := &Hub{repos: map[string][]commit{}, gated: map[string]string{}, corrupt: map[string]int64{}, release: make(chan struct{})}
	h.API = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.CDN = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	return h
}

// Close stops both servers, releasing held answers first.
func (h *Hub) Close() {
	h.Release()
	h.API.Close()
	h.CDN.Close()
}

// Publish makes a new commit of repo holding files (and only them) and
// points main at it; it returns the commit's hash.
func (h *Hub) Publish(repo string, files ...File) string {
	files = append([]File(nil), files...)
	for i := range files {
		files[i].hash()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := sha1.Sum([]byte(fmt.Sprintf("%s %d %d", repo, len(h.repos[repo]), time.Now().UnixNano())))
	c := commit{sha: hex.EncodeToString(s[:]), files: files, when: time.Date(2024, 5, 22, 17, 0, 0, 0, time.UTC).Add(time.Duration(len(h.repos[repo])) * time.Hour)}
	h.repos[repo] = append(h.repos[repo], c)
	return c.sha
}

// Gate makes repo answer as a gated repository to any token but token.
func (h *Hub) Gate(repo, token string) { h.mu.Lock(); h.gated[repo] = token; h.mu.Unlock() }

// Corrupt makes the CDN flip the byte at offset of the file whose sha256
// (of its true content) is sum.
func (h *Hub) Corrupt(sum string, offset int64) { h.mu.Lock(); h.corrupt[sum] = offset; h.mu.Unlock() }

// Expire refuses (403) every CDN URL the Hub gave out so far.
func (h *Hub) Expire() { h.mu.Lock(); h.expiry = h.issued + 1; h.mu.Unlock() }

// NoRanges makes the CDN ignore Range headers, answering 200 with the whole file.
func (h *Hub) NoRanges(on bool) { h.mu.Lock(); h.noRanges = on; h.mu.Unlock() }

// Sent is how many body bytes the CDN sent since the last ResetSent.
func (h *Hub) Sent() int64 { return h.sent.Load() }

// ResetSent zeroes the count of bytes sent, and the requests seen.
func (h *Hub) ResetSent() {
	h.sent.Store(0)
	h.mu.Lock()
	h.requests = nil
	h.mu.Unlock()
}

// StallAfter makes the CDN hold every answer once it has sent n bytes in
// all, until Release or the client goes; 0 never.
func (h *Hub) StallAfter(n int64) { h.stallAfter.Store(n) }

// CutAfter makes the CDN drop the connection once it has sent n bytes in
// all; it happens once.
func (h *Hub) CutAfter(n int64) { h.cutAfter.Store(n) }

// Release lets held answers go on, and stops holding new ones.
func (h *Hub) Release() {
	h.stallAfter.Store(0)
	h.mu.Lock()
	select {
	case <-h.release:
	default:
		close(h.release)
	}
	h.mu.Unlock()
}

// WaitIdle returns once no CDN answer is being written, or after d:
// answers held for a client that went away end when the server notices.
func (h *Hub) WaitIdle(d time.Duration) bool {
	for end := time.Now().Add(d); h.active.Load() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// Requests are the requests both servers received since the last ResetSent.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests...)
}

func (h *Hub) record(server string, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, Request{server, r.Method, r.URL.Path, r.Header.Get("Range"), r.Header.Get("Authorization")})
	h.mu.Unlock()
}

// hubError answers as the Hub does: X-Error-Code, X-Error-Message and a
// JSON body with "error".
func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func commonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "https://huggingface.co")
	h.Set("Access-Control-Expose-Headers", "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash")
	h.Set("Vary", "Origin")
	h.Set("X-Powered-By", "huggingface-moon")
	h.Set("X-Request-Id", "Root=1-"+strconv.FormatInt(time.Now().UnixNano(), 16))
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// lookup finds repo at rev (main or a commit hash), checking the gate.
func (h *Hub) lookup(w http.ResponseWriter, r *http.Request, repo, rev string) (commit, bool) {
	h.mu.Lock()
	commits, ok := h.repos[repo]
	token, gated := h.gated[repo]
	h.mu.Unlock()
	if !ok {
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return commit{}, false
	}
	if gated && r.Header.Get("Authorization") != "Bearer "+token {
		hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+repo+" is restricted and you are not in the authorized list. Visit https://huggingface.co/"+repo+" to ask for access.")
		return commit{}, false
	}
	if rev == "main" {
		return commits[len(commits)-1], true
	}
	for _, c := range commits {
		if c.sha == rev {
			return c, true
		}
	}
	hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
	return commit{}, false
}

func (h *Hub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.record("hub", r)
	commonHeaders(w)
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok {
		parts := strings.SplitN(rest, "/", 4) // ORG NAME revision REV
		if len(parts) != 4 || parts[2] != "revision" || r.Method != http.MethodGet {
			hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
			return
		}
		h.serveRevision(w, r, parts[0]+"/"+parts[1], parts[3])
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5) // ORG NAME resolve REV FILE
	if len(parts) != 5 || parts[2] != "resolve" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
		return
	}
	h.serveResolve(w, r, parts[0]+"/"+parts[1], parts[3], parts[4])
}

// serveRevision answers GET /api/models/REPO/revision/REV[?blobs=true].
func (h *Hub) serveRevision(w http.ResponseWriter, r *http.Request, repo, rev string) {
	c, ok := h.lookup(w, r, repo, rev)
	if !ok {
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
		BlobID    string `json:"blobId,omitempty"`
		Size      *int   `json:"size,omitempty"`
		LFS       *lfs   `json:"lfs,omitempty"`
	}
	siblings := []sibling{}
	used := 0
	for _, f := range c.files {
		s := sibling{RFilename: f.Path}
		if blobs {
			size := len(f.Data)
			s.BlobID, s.Size = f.blobID(), &size
			if f.LFS {
				s.LFS = &lfs{SHA256: f.sha256(), Size: len(f.Data), PointerSize: len(f.pointer())}
			}
		}
		used += len(f.Data)
		siblings = append(siblings, s)
	}
	org, _, _ := strings.Cut(repo, "/")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("ETag", `W/"`+c.sha[:16]+`"`)
	json.NewEncoder(w).Encode(map[string]any{
		"_id": "664e2a1b" + c.sha[:16], "id": repo, "modelId": repo, "author": org, "sha": c.sha,
		"private": false, "disabled": false, "gated": false, "downloads": 0, "likes": 0,
		"library_name": "gguf", "pipeline_tag": "text-generation",
		"tags":         []string{"gguf", "text-generation", "endpoints_compatible", "region:us", "conversational"},
		"lastModified": c.when.Format("2006-01-02T15:04:05.000Z"), "createdAt": c.when.Format("2006-01-02T15:04:05.000Z"),
		"siblings": siblings, "spaces": []string{}, "usedStorage": used,
	})
}

// serveResolve answers /REPO/resolve/REV/FILE: a 302 to the CDN for an
// LFS file, with X-Repo-Commit, X-Linked-Etag and X-Linked-Size; the bytes
// themselves for another file.
func (h *Hub) serveResolve(w http.ResponseWriter, r *http.Request, repo, rev, file string) {
	c, ok := h.lookup(w, r, repo, rev)
	if !ok {
		return
	}
	var f *File
	for i := range c.files {
		if c.files[i].Path == file {
			f = &c.files[i]
		}
	}
	if f == nil {
		w.Header().Set("X-Repo-Commit", c.sha)
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	w.Header().Set("X-Repo-Commit", c.sha)
	w.Header().Set("Accept-Ranges", "bytes")
	if !f.LFS {
		w.Header().Set("ETag", `"`+f.blobID()+`"`)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
		if r.Method == http.MethodGet {
			w.Write(f.Data)
		}
		return
	}
	h.mu.Lock()
	h.issued++
	issued := h.issued
	h.mu.Unlock()
	q := url.Values{}
	q.Set("response-content-disposition", fmt.Sprintf("inline; filename*=UTF-8''%s; filename=\"%s\";", url.PathEscape(path.Base(file)), path.Base(file)))
	q.Set("response-content-type", "application/octet-stream")
	q.Set("Expires", strconv.Itoa(issued))
	q.Set("Policy", "eyJTdGF0ZW1lbnQiOlt7IkNvbmRpdGlvbiI6eyJEYXRlTGVzc1RoYW4iOnsiQVdTOkVwb2NoVGltZSI6MTcxNjQwMDAwMH19fV19")
	q.Set("Signature", "c2lnbmF0dXJl")
	q.Set("Key-Pair-Id", "K3RPWS32NSSJCE")
	loc := h.CDN.URL + "/repos/" + f.sha256()[:2] + "/" + f.sha256()[2:4] + "/" + f.sha256() + "?" + q.Encode()
	body := "Found. Redirecting to " + loc
	w.Header().Set("Location", loc)
	w.Header().Set("X-Linked-Etag", `"`+f.sha256()+`"`)
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
	w.Header().Set("ETag", `"`+f.blobID()+`"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusFound)
	if r.Method == http.MethodGet {
		w.Write([]byte(body))
	}
}
