package hub

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A Name names a model in a repository of the Hub.
type Name struct {
	Repo string // ORG/NAME
	Tag  string // a quantization such as Q4_K_M; "" for the default
	File string // a path inside the repository, instead of Tag
}

// Aliases maps short names to the models strata targets.
// mistralai/Magistral-Small-2509-GGUF is Mistral's own GGUF release of
// Magistral Small 1.2 (BF16, Q8_0, Q5_K_M and Q4_K_M).
var Aliases = map[string]string{
	"mistral-7b":      "bartowski/Mistral-7B-Instruct-v0.3-GGUF:Q4_K_M",
	"magistral-small": "mistralai/Magistral-Small-2509-GGUF:Q4_K_M",
}

// DefaultTag is the quantization a name without one stands for, when the
// repository has it (llama.cpp's and ollama's default too).
const DefaultTag = "Q4_K_M"

// repoPart is one half of ORG/NAME as the Hub allows it.
var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	tagChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// ParseName parses an alias, ORG/NAME, ORG/NAME:TAG or ORG/NAME:FILE
// (FILE ending in .gguf, possibly in a folder). An hf.co/ or
// huggingface.co/ prefix is dropped, as in ollama's names.
func ParseName(s string) (Name, error) {
	if a, ok := Aliases[strings.ToLower(s)]; ok {
		s = a
	}
	for _, p := range []string{"https://", "hf.co/", "huggingface.co/"} {
		s = strings.TrimPrefix(s, p)
	}
	repo, rest, hasTag := strings.Cut(s, ":")
	org, name, ok := strings.Cut(repo, "/")
	if !ok || !validRepoPart(org) || !validRepoPart(name) {
		return Name{}, fmt.Errorf("%w: %q is not ORG/NAME[:TAG|:FILE] or one of the aliases %s", ErrBadName, s, aliasList())
	}
	n := Name{Repo: repo}
	switch {
	case !hasTag:
	case strings.HasSuffix(strings.ToLower(rest), ".gguf"):
		if !validFile(rest) {
			return Name{}, fmt.Errorf("%w: %q is not a file path inside a repository", ErrBadName, rest)
		}
		n.File = rest
	case tagChars.MatchString(rest):
		n.Tag = rest
	default:
		return Name{}, fmt.Errorf("%w: %q is not a quantization tag such as Q4_K_M, nor a .gguf file", ErrBadName, rest)
	}
	return n, nil
}

// LooksLikeName reports whether s reads as a model name rather than a
// file path: an alias, or ORG/NAME[:…] that names no .gguf or .json file.
func LooksLikeName(s string) bool {
	if _, ok := Aliases[strings.ToLower(s)]; ok {
		return true
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
		return false
	}
	repo, _, hasTag := strings.Cut(s, ":")
	if l := strings.ToLower(s); !hasTag && (strings.HasSuffix(l, ".gguf") || strings.HasSuffix(l, ".json")) {
		return false
	}
	_, err := ParseName(s)
	return err == nil && (hasTag || strings.Count(repo, "/") == 1)
}

// String is the name as ParseName reads it.
func (n Name) String() string {
	switch {
	case n.File != "":
		return n.Repo + ":" + n.File
	case n.Tag != "":
		return n.Repo + ":" + n.Tag
	}
	return n.Repo
}

// validRepoPart follows the Hub's rules: letters, digits, '.', '_', '-',
// not starting with one of the last three, without "--" or "..".
func validRepoPart(s string) bool {
	return repoPart.MatchString(s) && !strings.Contains(s, "--") && !strings.Contains(s, "..") && !strings.HasSuffix(s, ".")
}

// validFile is a relative path with no empty, "." or ".." element.
func validFile(s string) bool {
	for _, el := range strings.Split(s, "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsAny(el, "\\\x00") {
			return false
		}
	}
	return true
}

func aliasList() string {
	names := make([]string, 0, len(Aliases))
	for a := range Aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
