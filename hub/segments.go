package hub

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A segment is a byte range [start, end) of a file being downloaded,
// and the file on disk holding the first have bytes of it.
type segment struct {
	start, end int64
	path       string
	have       int64
}

func (s *segment) left() int64 { return s.end - s.start - s.have }

// planSegments reads what a download of size bytes into base.incomplete
// left on disk (base.incomplete holds a prefix of the file, each
// base.incomplete.OFFSET a prefix of the range from OFFSET to the next
// one), then cuts the largest ranges left in two while there are fewer
// than conns and the halves are at least minPart.
func planSegments(base string, size int64, conns int, minPart int64) ([]*segment, error) {
	main := base + ".incomplete"
	segs := []*segment{{start: 0, path: main}}
	found, err := filepath.Glob(globEscape(main) + ".*")
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	for _, p := range found {
		off, err := strconv.ParseInt(strings.TrimPrefix(p, main+"."), 10, 64)
		if err != nil || off <= 0 || off >= size || strconv.FormatInt(off, 10) != strings.TrimPrefix(p, main+".") {
			os.Remove(p) // not ours, or of another size: the file is named by its hash, so never of this one
			continue
		}
		segs = append(segs, &segment{start: off, path: p})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].start < segs[j].start })
	for i, s := range segs {
		s.end = size
		if i+1 < len(segs) {
			s.end = segs[i+1].start
		}
		st, err := os.Stat(s.path)
		switch {
		case os.IsNotExist(err):
		case err != nil:
			return nil, fmt.Errorf("hub: %w", err)
		case st.Size() > s.end-s.start:
			// What lies past the range is the next range's, kept there.
			if err := os.Truncate(s.path, s.end-s.start); err != nil {
				return nil, fmt.Errorf("hub: %w", err)
			}
			s.have = s.end - s.start
		default:
			s.have = st.Size()
		}
	}
	for len(segs) < conns {
		var big *segment
		for _, s := range segs {
			if big == nil || s.left() > big.left() {
				big = s
			}
		}
		if big.left() < 2*minPart {
			break
		}
		at := big.start + big.have + big.left()/2
		segs = append(segs, &segment{start: at, end: big.end, path: main + "." + strconv.FormatInt(at, 10)})
		big.end = at
		sort.Slice(segs, func(i, j int) bool { return segs[i].start < segs[j].start })
	}
	return segs, nil
}

// globEscape escapes the glob metacharacters of a path.
func globEscape(p string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(p)
}
