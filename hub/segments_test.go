package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPlanSegments(t *testing.T) {
	type on struct {
		suffix string // "" for base.incomplete, else ".OFFSET"
		size   int64
	}
	for _, c := range []struct {
		name    string
		disk    []on
		size    int64
		conns   int
		minPart int64
		want    [][3]int64 // start, end, have
	}{
		{name: "fresh, four ranges", size: 1000, conns: 4, minPart: 100,
			want: [][3]int64{{0, 250, 0}, {250, 500, 0}, {500, 750, 0}, {750, 1000, 0}}},
		{name: "fresh, too small to cut", size: 150, conns: 4, minPart: 100,
			want: [][3]int64{{0, 150, 0}}},
		{name: "one connection", size: 1000, conns: 1, minPart: 1,
			want: [][3]int64{{0, 1000, 0}}},
		{name: "a prefix from huggingface_hub: what is left is cut", disk: []on{{"", 600}}, size: 1000, conns: 2, minPart: 100,
			want: [][3]int64{{0, 800, 600}, {800, 1000, 0}}},
		{name: "ranges resumed as they were", disk: []on{{"", 100}, {".500", 20}}, size: 1000, conns: 2, minPart: 10,
			want: [][3]int64{{0, 500, 100}, {500, 1000, 20}}},
		{name: "a range longer than its span is cut back", disk: []on{{"", 700}, {".500", 20}}, size: 1000, conns: 2, minPart: 10,
			want: [][3]int64{{0, 500, 500}, {500, 1000, 20}}},
		{name: "stray parts go", disk: []on{{".0", 5}, {".007", 5}, {".2000", 5}, {".x", 5}}, size: 1000, conns: 1, minPart: 1,
			want: [][3]int64{{0, 1000, 0}}},
		{name: "complete", disk: []on{{"", 1000}}, size: 1000, conns: 4, minPart: 1,
			want: [][3]int64{{0, 1000, 1000}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "abc")
			for _, d := range c.disk {
				if err := os.WriteFile(base+".incomplete"+d.suffix, make([]byte, d.size), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			segs, err := planSegments(base, c.size, c.conns, c.minPart)
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != len(c.want) {
				t.Fatalf("%d segments, want %d: %+v", len(segs), len(c.want), segs)
			}
			for i, s := range segs {
				if w := c.want[i]; s.start != w[0] || s.end != w[1] || s.have != w[2] {
					t.Errorf("segment %d: [%d, %d) with %d, want %v", i, s.start, s.end, s.have, w)
				}
				want := base + ".incomplete"
				if s.start > 0 {
					want += "." + strconv.FormatInt(s.start, 10)
				}
				if s.path != want {
					t.Errorf("segment %d at %s, want %s", i, s.path, want)
				}
			}
			left, _ := filepath.Glob(base + ".incomplete.*")
			for _, p := range left {
				found := false
				for _, s := range segs {
					found = found || s.path == p
				}
				if !found {
					t.Errorf("%s was left on disk", p)
				}
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][4]int64{
		"bytes 0-99/1000":    {0, 99, 1000, 1},
		"bytes 900-999/1000": {900, 999, 1000, 1},
		"bytes 5-4/1000":     {0, 0, 0, 0},
		"bytes 0-1000/1000":  {0, 0, 0, 0},
		"bytes */1000":       {0, 0, 0, 0},
		"0-99/1000":          {0, 0, 0, 0},
	} {
		a, b, n, ok := parseContentRange(in)
		if ok != (want[3] == 1) || ok && (a != want[0] || b != want[1] || n != want[2]) {
			t.Errorf("parseContentRange(%q) = %d %d %d %v", in, a, b, n, ok)
		}
	}
}
