package hub

import (
	"errors"
	"testing"
)

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Name
		bad  bool
	}{
		{in: "bartowski/Mistral-7B-Instruct-v0.3-GGUF", want: Name{Repo: "bartowski/Mistral-7B-Instruct-v0.3-GGUF"}},
		{in: "bartowski/Mistral-7B-Instruct-v0.3-GGUF:Q4_K_M", want: Name{Repo: "bartowski/Mistral-7B-Instruct-v0.3-GGUF", Tag: "Q4_K_M"}},
		{in: "unsloth/Magistral-Small-2509-GGUF:UD-Q4_K_XL", want: Name{Repo: "unsloth/Magistral-Small-2509-GGUF", Tag: "UD-Q4_K_XL"}},
		{in: "org/repo:sub/dir/model-Q8_0.gguf", want: Name{Repo: "org/repo", File: "sub/dir/model-Q8_0.gguf"}},
		{in: "hf.co/org/repo:q4_k_m", want: Name{Repo: "org/repo", Tag: "q4_k_m"}},
		{in: "https://huggingface.co/org/repo", want: Name{Repo: "org/repo"}},
		{in: "mistral-7b", want: Name{Repo: "bartowski/Mistral-7B-Instruct-v0.3-GGUF", Tag: "Q4_K_M"}},
		{in: "Magistral-Small", want: Name{Repo: "mistralai/Magistral-Small-2509-GGUF", Tag: "Q4_K_M"}},
		{in: "norepo", bad: true},
		{in: "a/b/c", bad: true},
		{in: "org/re--po", bad: true},
		{in: "org/re..po", bad: true},
		{in: "-org/repo", bad: true},
		{in: "org/repo:", bad: true},
		{in: "org/repo:../x.gguf", bad: true},
		{in: "org/repo:a b", bad: true},
	} {
		got, err := ParseName(c.in)
		if c.bad {
			if !errors.Is(err, ErrBadName) {
				t.Errorf("ParseName(%q) = %+v, %v; want ErrBadName", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseName(got.String()); err != nil || again != got {
			t.Errorf("ParseName(%q.String()) = %+v, %v", c.in, again, err)
		}
	}
}

func TestLooksLikeName(t *testing.T) {
	for in, want := range map[string]bool{
		"mistral-7b":                   true,
		"org/repo":                     true,
		"org/repo:Q4_K_M":              true,
		"org/repo:model.gguf":          true,
		"model.gguf":                   false,
		"dir/model.gguf":               false,
		"split/manifest.json":          false,
		"./org/repo":                   false,
		"/tmp/org/repo":                false,
		"testdata/tiny-mistral/x.gguf": false,
		"a/b/c":                        false,
	} {
		if got := LooksLikeName(in); got != want {
			t.Errorf("LooksLikeName(%q) = %v, want %v", in, got, want)
		}
	}
}
