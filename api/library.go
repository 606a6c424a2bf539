package api

import "context"

// A Library is the models a server of many serves (strata server
// --models-dir and the Hugging Face cache): it lists them, and loads one
// when a request names it. The server keeps those it loaded within a
// memory budget (Options.Memory), unloading the least recently used.
type Library interface {
	// Models lists the models clients may ask for.
	Models() ([]Entry, error)
	// Load loads the model Models listed as id; close frees everything
	// it holds. ctx ends with the server.
	Load(ctx context.Context, id string) (m *Model, close func(), err error)
}

// An Entry is one model of a Library.
type Entry struct {
	ID string
	// Memory is the bytes serving it takes (its weights, every slot's KV
	// cache and the activations, as engine.Config.Memory counts them),
	// and Needs the same with its factors, for messages.
	Memory int64
	Needs  string
	// Error, when set, says why the model cannot be served (a GGUF in
	// several parts, an unreadable file); it is not listed then.
	Error   string
	Created int64 // Unix seconds, for /v1/models
}
