package hubtest

import (
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// find is the file of any commit whose sha256 is sum.
func (h *Hub) find(sum string) (*File, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, commits := range h.repos {
		for _, c := range commits {
			for i := range c.files {
				if f := &c.files[i]; f.LFS && f.sha256() == sum {
					return f, true
				}
			}
		}
	}
	return nil, false
}

// serveCDN answers GET /repos/AA/BB/SHA256?…, as a CDN does: the whole
// object, or one byte range (206 with Content-Range), 416 for a range
// past the end.
func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.active.Add(1)
	defer h.active.Add(-1)
	h.record("cdn", r)
	f, ok := h.find(path.Base(r.URL.Path))
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
		return
	}
	exp, _ := strconv.Atoi(r.URL.Query().Get("Expires"))
	h.mu.Lock()
	expired, noRanges, flip := exp < h.expiry, h.noRanges, int64(-1)
	if off, bad := h.corrupt[f.sha256()]; bad {
		flip = off
	}
	h.mu.Unlock()
	if expired {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
		return
	}
	size := int64(len(f.Data))
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", `"`+f.sha256()+`"`)
	hd.Set("Last-Modified", time.Date(2024, 5, 22, 17, 0, 0, 0, time.UTC).Format(http.TimeFormat))
	hd.Set("Content-Disposition", r.URL.Query().Get("response-content-disposition"))
	hd.Set("Cache-Control", "public, max-age=604800, immutable, s-maxage=604800")
	hd.Set("X-Cache", "Miss from cloudfront")
	hd.Set("Via", "1.1 4fcb5a0e6f4e1b6c3d0a.cloudfront.net (CloudFront)")
	from, to, status := int64(0), size-1, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && !noRanges {
		a, b, ok := parseRange(rg, size)
		if !ok {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		from, to, status = a, b, http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, size))
	}
	hd.Set("Content-Length", strconv.FormatInt(to-from+1, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	h.send(w, r, f.Data, from, to, flip)
}

// send writes data[from:to+1] in small writes, holding or cutting as told.
func (h *Hub) send(w http.ResponseWriter, r *http.Request, data []byte, from, to, flip int64) {
	const chunk = 16 << 10
	for at := from; at <= to; {
		if n := h.stallAfter.Load(); n > 0 && h.sent.Load() >= n {
			select {
			case <-r.Context().Done():
				return
			case <-h.release:
			}
		}
		end := min(at+chunk, to+1)
		if n := h.cutAfter.Load(); n > 0 && h.sent.Load()+end-at >= n {
			end = at + max(n-h.sent.Load(), 0)
			if h.cutAfter.CompareAndSwap(n, 0) {
				h.write(w, data, at, end, flip)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // drops the connection mid-body
			}
			continue
		}
		if !h.write(w, data, at, end, flip) {
			return
		}
		at = end
	}
}

func (h *Hub) write(w http.ResponseWriter, data []byte, from, to, flip int64) bool {
	if from >= to {
		return true
	}
	b := data[from:to]
	if flip >= from && flip < to {
		b = append([]byte(nil), b...)
		b[flip-from] ^= 0x40
	}
	n, err := w.Write(b)
	h.sent.Add(int64(n))
	return err == nil
}

// parseRange reads one range of "bytes=A-B", "bytes=A-" or "bytes=-N".
func parseRange(s string, size int64) (from, to int64, ok bool) {
	r, found := strings.CutPrefix(s, "bytes=")
	if !found || strings.Contains(r, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil || from >= size {
		return 0, 0, false
	}
	to = size - 1
	if b != "" {
		if to, err = strconv.ParseInt(b, 10, 64); err != nil || to < from {
			return 0, 0, false
		}
		to = min(to, size-1)
	}
	return from, to, true
}
