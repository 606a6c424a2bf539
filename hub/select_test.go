package hub

import (
	"errors"
	"testing"
)

func files(paths ...string) []RepoFile {
	out := make([]RepoFile, len(paths))
	for i, p := range paths {
		out[i] = RepoFile{Path: p, Size: 1}
	}
	return out
}

func TestTagOf(t *testing.T) {
	for path, want := range map[string]string{
		"Mistral-7B-Instruct-v0.3-Q4_K_M.gguf":                  "Q4_K_M",
		"mistral-7b-instruct-v0.2.Q5_K_S.gguf":                  "Q5_K_S",
		"Magistral-Small-2509-UD-Q4_K_XL.gguf":                  "UD-Q4_K_XL",
		"Q8_0/Model-Q8_0-00001-of-00003.gguf":                   "Q8_0",
		"Magistral-Small-2509-BF16.gguf":                        "BF16",
		"model-iq4_xs.gguf":                                     "IQ4_XS",
		"ggml-model-f16.gguf":                                   "F16",
		"tiny.gguf":                                             "",
		"Meta-Llama-3.1-8B-Instruct-Q4_K_M-00002-of-00002.gguf": "Q4_K_M",
	} {
		if got := tagOf(path); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestSelect(t *testing.T) {
	repo := files("README.md", ".gitattributes",
		"M-Q4_K_M.gguf", "M-Q8_0.gguf", "M-UD-Q4_K_XL.gguf", "M-Q4_K_XL.gguf", "mmproj-M-f16.gguf",
		"BF16/M-BF16-00001-of-00002.gguf", "BF16/M-BF16-00002-of-00002.gguf",
		"Q6_K/M-Q6_K-00001-of-00002.gguf") // a split with a part missing
	for _, c := range []struct {
		name  Name
		parts []string
		err   error
	}{
		{name: Name{Tag: "Q4_K_M"}, parts: []string{"M-Q4_K_M.gguf"}},
		{name: Name{Tag: "q8_0"}, parts: []string{"M-Q8_0.gguf"}},
		{name: Name{}, parts: []string{"M-Q4_K_M.gguf"}},
		{name: Name{Tag: "Q4_K_XL"}, parts: []string{"M-Q4_K_XL.gguf"}},
		{name: Name{Tag: "UD-Q4_K_XL"}, parts: []string{"M-UD-Q4_K_XL.gguf"}},
		{name: Name{Tag: "BF16"}, parts: []string{"BF16/M-BF16-00001-of-00002.gguf", "BF16/M-BF16-00002-of-00002.gguf"}},
		{name: Name{File: "BF16/M-BF16-00002-of-00002.gguf"}, parts: []string{"BF16/M-BF16-00001-of-00002.gguf", "BF16/M-BF16-00002-of-00002.gguf"}},
		{name: Name{File: "M-Q8_0.gguf"}, parts: []string{"M-Q8_0.gguf"}},
		{name: Name{Tag: "Q6_K"}, err: ErrNoMatch},
		{name: Name{Tag: "F16"}, err: ErrNoMatch}, // the projector is not a model
		{name: Name{File: "README.md"}, err: ErrNoMatch},
	} {
		c.name.Repo = "org/m"
		m, err := Select(repo, c.name)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%v: %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || len(m.Parts) != len(c.parts) {
			t.Errorf("%v: %+v, %v; want %v", c.name, m, err, c.parts)
			continue
		}
		for i, p := range m.Parts {
			if p.Path != c.parts[i] {
				t.Errorf("%v: part %d is %s, want %s", c.name, i, p.Path, c.parts[i])
			}
		}
	}
	if _, err := Select(files("a-Q4_K_M.gguf", "b-Q4_K_M.gguf"), Name{Repo: "o/r", Tag: "Q4_K_M"}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("two files with one tag: %v", err)
	}
	if m, err := Select(files("only.gguf"), Name{Repo: "o/r"}); err != nil || m.Path() != "only.gguf" {
		t.Errorf("the only model: %+v, %v", m, err)
	}
	if _, err := Select(files("a-Q8_0.gguf", "a-Q5_K_M.gguf"), Name{Repo: "o/r"}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("no tag, no Q4_K_M, two models: %v", err)
	}
}

func TestShortName(t *testing.T) {
	repo := files("M-Q4_K_M.gguf", "M-UD-Q4_K_XL.gguf", "a.gguf", "b-Q8_0.gguf", "c-Q8_0.gguf")
	for _, c := range []struct{ file, want string }{
		{"M-Q4_K_M.gguf", "o/r:Q4_K_M"},
		{"M-UD-Q4_K_XL.gguf", "o/r:UD-Q4_K_XL"},
		{"a.gguf", "o/r:a.gguf"},
		{"b-Q8_0.gguf", "o/r:b-Q8_0.gguf"}, // Q8_0 is ambiguous
	} {
		m, err := Select(repo, Name{Repo: "o/r", File: c.file})
		if err != nil {
			t.Fatal(err)
		}
		if got := ShortName("o/r", repo, m); got != c.want {
			t.Errorf("ShortName(%s) = %s, want %s", c.file, got, c.want)
		}
	}
}
