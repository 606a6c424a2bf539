package main

import (
	"fmt"
	"os"
	"path/filepath"

	"strata/engine"
	"strata/gguf"
)

// A listedModel is one row of 'strata list'.
type listedModel struct {
	Name         string `json:"name"`
	Source       string `json:"source"` // "hub" (the Hugging Face cache) or "dir" (--models-dir)
	Architecture string `json:"architecture,omitempty"`
	Parameters   int64  `json:"parameters"`
	Quantization string `json:"quantization,omitempty"`
	Size         int64  `json:"size"`
	Context      int64  `json:"context"`
	Path         string `json:"path"`
	Files        int    `json:"files"`           // the parts of a split, the fragments of a manifest
	Error        string `json:"error,omitempty"` // why the file could not be read
}

// describe fills a row's architecture, parameters, quantization and
// context from GGUF files: paths[0] holds the metadata, and every file
// holds tensors (the parts of a split, or a manifest's fragments).
func (m *listedModel) describe(paths []string) {
	m.Files = len(paths)
	for i, p := range paths {
		f, err := gguf.Open(p)
		if err != nil {
			m.Error = err.Error()
			return
		}
		if i == 0 {
			m.Architecture, _ = f.String("general.architecture")
			m.Context, _ = f.Int(m.Architecture + ".context_length")
			m.Quantization = quantization(f)
		}
		for j := range f.Tensors {
			m.Parameters += int64(f.Tensors[j].Elements())
		}
		f.Close()
	}
}

// quantization names the file's general.file_type (Q4_K_M), or else the
// tensor type holding most of its bytes.
func quantization(f *gguf.File) string {
	if ft, ok := f.FileType(); ok {
		return ft.String()
	}
	bytes := map[gguf.TensorType]uint64{}
	var top gguf.TensorType
	for _, t := range f.Tensors {
		bytes[t.Type] += t.Size
		if bytes[t.Type] > bytes[top] {
			top = t.Type
		}
	}
	if len(bytes) == 0 {
		return ""
	}
	return "mostly " + top.String()
}

// fromManifest is the row of a split made by 'strata split'.
func fromManifest(name, path string) listedModel {
	m := listedModel{Name: name, Source: "dir", Path: path}
	man, err := engine.ReadManifest(path)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	m.Architecture = man.Architecture
	var files []string
	for _, fr := range man.Fragments {
		m.Size += fr.Size
		p := filepath.Join(filepath.Dir(path), fr.File)
		if _, err := os.Stat(p); err != nil {
			m.Error = fmt.Sprintf("fragment %d (%s) is not here", fr.Index, fr.File)
			m.Files = len(man.Fragments)
			return m
		}
		files = append(files, p)
	}
	m.describe(files)
	return m
}
