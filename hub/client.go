package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A Client talks to the Hub's API and resolve URLs.
type Client struct {
	Endpoint  string       // https://huggingface.co, or HF_ENDPOINT
	Token     string       // sent as "Authorization: Bearer" to the Endpoint's host only
	HTTP      *http.Client // nil: one with connect and header timeouts, no overall one
	UserAgent string
}

// NewClient is a client of DefaultEndpoint with DefaultToken.
func NewClient() *Client {
	return &Client{Endpoint: DefaultEndpoint(), Token: DefaultToken()}
}

// defaultHTTP bounds connecting and waiting for headers, never a body: a
// model takes as long as it takes, and stalls are caught per read.
var defaultHTTP = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	},
	// Redirects are followed by hand: the Authorization header must not
	// reach the CDN, and the resolve answer's own headers matter.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// Revision is a repository at one commit.
type Revision struct {
	Repo   string
	Commit string
	Files  []RepoFile
}

// Revision lists the files of repo at rev (a branch, tag or commit), with
// their sizes and LFS hashes: GET /api/models/REPO/revision/REV?blobs=true.
func (c *Client) Revision(ctx context.Context, repo, rev string) (*Revision, error) {
	u := c.Endpoint + "/api/models/" + repo + "/revision/" + url.PathEscape(rev) + "?blobs=true"
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
			Size      *int64 `json:"size"`
			BlobID    string `json:"blobId"`
			LFS       *struct {
				SHA256 string `json:"sha256"`
				Size   int64  `json:"size"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("hub: %s: reading the file list: %w", u, err)
	}
	if !isCommit(info.SHA) {
		return nil, fmt.Errorf("%w: %s names no commit (sha %q)", ErrInconsistent, u, info.SHA)
	}
	r := &Revision{Repo: repo, Commit: info.SHA}
	for _, s := range info.Siblings {
		if !validFile(s.RFilename) {
			return nil, fmt.Errorf("%w: %s lists a file named %q", ErrInconsistent, u, s.RFilename)
		}
		f := RepoFile{Path: s.RFilename, BlobID: s.BlobID, Size: -1}
		if s.Size != nil {
			f.Size = *s.Size
		}
		if s.LFS != nil {
			if !isSHA256(s.LFS.SHA256) {
				return nil, fmt.Errorf("%w: %s lists %s with LFS oid %q", ErrInconsistent, u, s.RFilename, s.LFS.SHA256)
			}
			f.SHA256, f.Size = s.LFS.SHA256, s.LFS.Size
		}
		r.Files = append(r.Files, f)
	}
	return r, nil
}

// location is where a file's bytes are, as its resolve URL says.
type location struct {
	URL    string
	Commit string // X-Repo-Commit
	ETag   string // X-Linked-Etag (the LFS sha256), else ETag (the git blob hash)
	Size   int64  // X-Linked-Size, else Content-Length; -1 if neither
	hub    bool   // URL is on the Hub's host: send the token there
}

// resolve asks HEAD /REPO/resolve/COMMIT/FILE where file's bytes are. It
// follows redirects on the Hub's host (a renamed repository) and stops
// at the first one elsewhere (the CDN), whose headers describe the file.
func (c *Client) resolve(ctx context.Context, repo, commit, file string) (location, error) {
	u := c.Endpoint + "/" + repo + "/resolve/" + url.PathEscape(commit) + "/" + escapePath(file)
	for range 10 {
		resp, err := c.do(ctx, http.MethodHead, u, http.Header{"Accept-Encoding": {"identity"}})
		if err != nil {
			return location{}, err
		}
		resp.Body.Close()
		loc := location{
			URL: u, Commit: resp.Header.Get("X-Repo-Commit"), hub: true, Size: -1,
			ETag: normalizeETag(firstHeader(resp.Header, "X-Linked-Etag", "ETag")),
		}
		if s := resp.Header.Get("X-Linked-Size"); s != "" {
			fmt.Sscan(s, &loc.Size)
		} else if resp.StatusCode == http.StatusOK {
			loc.Size = resp.ContentLength
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return loc, nil
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			next, err := resp.Location()
			if err != nil {
				return location{}, fmt.Errorf("%w: HEAD %s: %d without a Location", ErrInconsistent, u, resp.StatusCode)
			}
			if c.sameHost(next.String()) {
				u = next.String()
				continue
			}
			loc.URL, loc.hub = next.String(), false
			return loc, nil
		default:
			return location{}, statusError(resp)
		}
	}
	return location{}, fmt.Errorf("%w: HEAD %s: too many redirects", ErrInconsistent, u)
}

// do sends one request, with the token when the URL is on the Hub's host.
func (c *Client) do(ctx context.Context, method, u string, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "strata"
	}
	req.Header.Set("User-Agent", ua)
	if c.Token != "" && c.sameHost(u) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return resp, nil
}

// sameHost reports whether u is on the Endpoint's host.
func (c *Client) sameHost(u string) bool {
	a, err1 := url.Parse(u)
	b, err2 := url.Parse(c.Endpoint)
	return err1 == nil && err2 == nil && strings.EqualFold(a.Host, b.Host)
}

// statusError turns an error answer into a *StatusError, reading the Hub's
// X-Error-Code and X-Error-Message (or the JSON body's "error").
func statusError(resp *http.Response) error {
	e := &StatusError{
		Method: resp.Request.Method, URL: resp.Request.URL.String(), Status: resp.StatusCode,
		Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message"),
	}
	if e.Message == "" {
		var body struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&body) == nil {
			e.Message = body.Error
		}
	}
	switch {
	case e.Code == "RepoNotFound":
		e.Kind = ErrRepoNotFound
	case e.Code == "RevisionNotFound":
		e.Kind = ErrRevisionNotFound
	case e.Code == "EntryNotFound":
		e.Kind = ErrEntryNotFound
	case e.Code == "GatedRepo":
		e.Kind = ErrGated
	case e.Status == http.StatusUnauthorized && e.Message == "Invalid credentials in Authorization header":
		e.Kind = ErrUnauthorized
	case e.Status == http.StatusUnauthorized:
		// The Hub answers 401 for a private or missing repository alike.
		e.Kind = ErrRepoNotFound
	}
	return e
}

// normalizeETag strips W/ and quotes: W/"abc" and "abc" are abc.
func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

func firstHeader(h http.Header, keys ...string) string {
	for _, k := range keys {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// escapePath escapes each element of a path inside a repository.
func escapePath(p string) string {
	els := strings.Split(p, "/")
	for i, el := range els {
		els[i] = url.PathEscape(el)
	}
	return strings.Join(els, "/")
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isSHA256(s string) bool { return isHex(s, 64) }
func isCommit(s string) bool { return isHex(s, 40) }
