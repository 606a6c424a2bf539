package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web chat and the swarm page, with their vendored libraries.
//
//go:embed web
var webFiles embed.FS

// webHandler serves the pages: / is the chat, /swarm the swarm page.
func webHandler() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/swarm" {
			r.URL.Path = "/swarm.html"
		}
		files.ServeHTTP(w, r)
	})
}
