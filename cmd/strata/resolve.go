package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"strata/hub"
)

// modelPath is the command's MODEL argument as a file to open: the path
// as given, or, for a name such as bartowski/Mistral-7B-Instruct-v0.3-GGUF:Q4_K_M
// or mistral-7b, the model's file in the Hugging Face hub cache.
func modelPath(c *cli.Context) (string, error) {
	arg, err := onePath(c)
	if err != nil {
		return "", err
	}
	return resolveModel(arg)
}

// resolveModel maps a name that is no file on disk to the cached model's
// file; any other argument is returned as it is.
func resolveModel(arg string) (string, error) {
	if _, err := os.Stat(arg); err == nil || !hub.LooksLikeName(arg) {
		return arg, nil
	}
	name, err := hub.ParseName(arg)
	if err != nil {
		return "", err
	}
	cache, err := hub.OpenCache()
	if err != nil {
		return "", err
	}
	m, err := cache.Find(name)
	if err != nil {
		return "", err
	}
	if len(m.Paths) > 1 {
		return "", fmt.Errorf("%s is a GGUF split into %d files (%s …): strata reads a model from one file; "+
			"join them with llama.cpp's 'llama-gguf-split --merge %s OUT.gguf'", m.Name, len(m.Paths), m.Paths[0], m.Paths[0])
	}
	slog.Debug("model from the hub cache", "name", m.Name, "path", m.Paths[0])
	return m.Paths[0], nil
}
