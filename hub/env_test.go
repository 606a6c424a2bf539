package hub

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultCacheDir(t *testing.T) {
	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/x/hub", "HF_HOME": "/y"}, "/x/hub"},
		{map[string]string{"HUGGINGFACE_HUB_CACHE": "/old"}, "/old"},
		{map[string]string{"HF_HOME": "/y", "XDG_CACHE_HOME": "/z"}, "/y/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/z"}, "/z/huggingface/hub"},
		{map[string]string{"HF_HOME": "~/hf"}, filepath.Join(home, "hf", "hub")},
		{map[string]string{}, filepath.Join(home, ".cache", "huggingface", "hub")},
	} {
		for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
			t.Setenv(v, c.env[v])
		}
		if got, err := DefaultCacheDir(); err != nil || got != c.want {
			t.Errorf("%v: %s %v, want %s", c.env, got, err, c.want)
		}
	}
}

func TestDefaultToken(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("hf_saved\n"), 0o600)
	t.Setenv("HF_HOME", dir)
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN", "hf_env")
	if got := DefaultToken(); got != "hf_env" {
		t.Errorf("with HF_TOKEN: %q", got)
	}
	t.Setenv("HF_TOKEN", "")
	if got := DefaultToken(); got != "hf_saved" {
		t.Errorf("from $HF_HOME/token: %q", got)
	}
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
	if got := DefaultEndpoint(); got != "http://127.0.0.1:9" {
		t.Errorf("DefaultEndpoint = %s", got)
	}
}

func TestStatusError(t *testing.T) {
	for _, c := range []struct {
		status      int
		code, msg   string
		want        error
		description string
	}{
		{401, "RepoNotFound", "Repository not found", ErrRepoNotFound, "HF_TOKEN"},
		{401, "", "", ErrRepoNotFound, "private or gated"},
		{401, "", "Invalid credentials in Authorization header", ErrUnauthorized, "check HF_TOKEN"},
		{403, "GatedRepo", "Access to model o/r is restricted", ErrGated, "accept its conditions"},
		{404, "RevisionNotFound", "Invalid rev id: x", ErrRevisionNotFound, "Invalid rev id"},
		{404, "EntryNotFound", "Entry not found", ErrEntryNotFound, "Entry not found"},
		{503, "", "", nil, "503"},
	} {
		u, _ := url.Parse("https://huggingface.co/api/models/o/r/revision/main")
		resp := &http.Response{StatusCode: c.status, Header: http.Header{}, Body: http.NoBody,
			Request: &http.Request{Method: "GET", URL: u}}
		if c.code != "" {
			resp.Header.Set("X-Error-Code", c.code)
		}
		if c.msg != "" {
			resp.Header.Set("X-Error-Message", c.msg)
		}
		err := statusError(resp)
		if c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.description) || !strings.HasPrefix(err.Error(), "hub: ") {
			t.Errorf("%d %s: %v, want %v with %q", c.status, c.code, err, c.want, c.description)
		}
	}
}
