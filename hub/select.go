package hub

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A RepoFile is a file of a repository at one commit.
type RepoFile struct {
	Path   string // inside the repository
	Size   int64
	SHA256 string // the LFS object's sha256; "" for a file outside LFS
	BlobID string // the git blob hash (sha1)
}

// A Model is one GGUF model of a repository: one file, or every part of a
// split GGUF (MODEL-00001-of-00003.gguf …) in order.
type Model struct {
	Tag   string // the quantization its file name carries ("" if none)
	Parts []RepoFile
}

// Path is the model's first (or only) file.
func (m *Model) Path() string { return m.Parts[0].Path }

// Size is the size of all its parts.
func (m *Model) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

var (
	splitSuffix = regexp.MustCompile(`-(\d{5})-of-(\d{5})\.gguf$`)
	quantTag    = regexp.MustCompile(`(?i)^(ud-)?(i?q\d+(_[a-z0-9]+)*|tq\d_\d|b?f16|f32|mxfp4(_moe)?)$`)
)

// Models groups the GGUF files among files into models (the parts of a
// split together) and sorts them by path. Multimodal projectors
// (mmproj-*.gguf) are not models. A split with a part missing is left out.
func Models(files []RepoFile) []Model {
	type group struct {
		count int
		parts map[int]RepoFile
	}
	groups := map[string]*group{}
	var out []Model
	for _, f := range files {
		base := path.Base(f.Path)
		if !strings.HasSuffix(strings.ToLower(base), ".gguf") || strings.HasPrefix(strings.ToLower(base), "mmproj") {
			continue
		}
		m := splitSuffix.FindStringSubmatch(f.Path)
		if m == nil {
			out = append(out, Model{Tag: tagOf(f.Path), Parts: []RepoFile{f}})
			continue
		}
		no, _ := strconv.Atoi(m[1])
		count, _ := strconv.Atoi(m[2])
		key := strings.TrimSuffix(f.Path, m[0]) + "-of-" + m[2]
		g := groups[key]
		if g == nil {
			g = &group{count: count, parts: map[int]RepoFile{}}
			groups[key] = g
		}
		g.parts[no] = f
	}
	for _, g := range groups {
		if g.count == 0 || len(g.parts) != g.count {
			continue
		}
		parts := make([]RepoFile, 0, g.count)
		for i := 1; i <= g.count; i++ {
			p, ok := g.parts[i]
			if !ok {
				break
			}
			parts = append(parts, p)
		}
		if len(parts) == g.count {
			out = append(out, Model{Tag: tagOf(parts[0].Path), Parts: parts})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path() < out[j].Path() })
	return out
}

// stem is a file's base name without .gguf and without a split's
// -00001-of-00003.
func stem(p string) string {
	p = splitSuffix.ReplaceAllString(p, ".gguf")
	b := path.Base(p)
	return b[:len(b)-len(".gguf")]
}

// tagOf is the longest quantization tag that ends a file's stem, after a
// '-', '.' or '_' ("Q4_K_M" in Mistral-7B-Instruct-v0.3-Q4_K_M.gguf,
// "UD-Q4_K_XL" in Magistral-Small-2509-UD-Q4_K_XL.gguf).
func tagOf(p string) string {
	s := stem(p)
	tag := ""
	for i := len(s) - 1; i > 0; i-- {
		if c := s[i-1]; c == '-' || c == '.' || c == '_' {
			if quantTag.MatchString(s[i:]) {
				tag = s[i:]
			}
		}
	}
	if tag == "" && quantTag.MatchString(s) {
		tag = s
	}
	return strings.ToUpper(tag)
}

// hasTag reports whether a file's stem ends with tag (any case) after a
// separator, or is the tag.
func hasTag(p, tag string) bool {
	s, t := strings.ToLower(stem(p)), strings.ToLower(tag)
	if s == t {
		return true
	}
	for _, sep := range []string{"-", ".", "_"} {
		if strings.HasSuffix(s, sep+t) {
			return true
		}
	}
	return false
}

// Select picks the model that name stands for among files: the one with
// name.File (any part of a split stands for the whole split), or the one
// whose file name carries name.Tag; without either, the DefaultTag when
// the repository has it, or its only model.
func Select(files []RepoFile, name Name) (Model, error) {
	models := Models(files)
	if name.File != "" {
		for _, m := range models {
			for _, p := range m.Parts {
				if p.Path == name.File {
					return m, nil
				}
			}
		}
		return Model{}, fmt.Errorf("%w: %s has no model file %s%s", ErrNoMatch, name.Repo, name.File, available(models))
	}
	tag := name.Tag
	if tag == "" {
		if len(models) == 1 {
			return models[0], nil
		}
		tag = DefaultTag
	}
	var found []Model
	for _, m := range models {
		if hasTag(m.Path(), tag) {
			found = append(found, m)
		}
	}
	if len(found) > 1 { // Q4_K_XL: X-Q4_K_XL.gguf rather than X-UD-Q4_K_XL.gguf
		var exact []Model
		for _, m := range found {
			if strings.EqualFold(m.Tag, tag) {
				exact = append(exact, m)
			}
		}
		if len(exact) == 1 {
			found = exact
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		what := "quantization " + tag
		if name.Tag == "" {
			what = "tag given, and more than one model (nor " + DefaultTag + ")"
		}
		return Model{}, fmt.Errorf("%w: %s has no %s%s", ErrNoMatch, name.Repo, what, available(models))
	}
	paths := make([]string, len(found))
	for i, m := range found {
		paths[i] = m.Path()
	}
	return Model{}, fmt.Errorf("%w: %s:%s matches %s: name one as %s:FILE", ErrAmbiguous, name.Repo, tag, strings.Join(paths, ", "), name.Repo)
}

// ShortName is the shortest name that Select maps back to m: REPO:TAG
// when the tag picks m alone, else REPO:FILE.
func ShortName(repo string, files []RepoFile, m Model) string {
	if m.Tag != "" {
		if got, err := Select(files, Name{Repo: repo, Tag: m.Tag}); err == nil && got.Path() == m.Path() {
			return repo + ":" + m.Tag
		}
	}
	return repo + ":" + m.Path()
}

// available lists the models' tags (or paths) for an error message.
func available(models []Model) string {
	if len(models) == 0 {
		return " (it has no GGUF model files)"
	}
	var names []string
	seen := map[string]bool{}
	for _, m := range models {
		n := m.Tag
		if n == "" {
			n = m.Path()
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return "; it has " + strings.Join(names, ", ")
}
