package hub

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the Hub, or HF_ENDPOINT when set (a mirror, or a
// test server).
func DefaultEndpoint() string {
	if e := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"); e != "" {
		return e
	}
	return "https://huggingface.co"
}

// DefaultToken is HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
// token `hf auth login` saved (HF_TOKEN_PATH, else $HF_HOME/token); "" if none.
func DefaultToken() string {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(v)); t != "" {
			return t
		}
	}
	file := os.Getenv("HF_TOKEN_PATH")
	if file == "" {
		home, err := hfHome()
		if err != nil {
			return ""
		}
		file = filepath.Join(home, "token")
	}
	b, err := os.ReadFile(expand(file))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DefaultCacheDir is the Hub cache huggingface_hub uses: HF_HUB_CACHE (or
// the older HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, where HF_HOME
// defaults to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func DefaultCacheDir() (string, error) {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return expand(d), nil
		}
	}
	home, err := hfHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "hub"), nil
}

func hfHome() (string, error) {
	if h := os.Getenv("HF_HOME"); h != "" {
		return expand(h), nil
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(expand(x), "huggingface"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("hub: no cache directory: set HF_HUB_CACHE or HF_HOME (%w)", err)
	}
	return filepath.Join(home, ".cache", "huggingface"), nil
}

// expand replaces a leading ~ and $VARS, as huggingface_hub does.
func expand(p string) string {
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	return p
}
