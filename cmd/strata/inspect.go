package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:         "inspect",
		Usage:        "show a model's metadata, architecture and tensors",
		ArgsUsage:    "MODEL",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			modelFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.IntFlag{Name: "array-values", Value: 8, Usage: "values of each metadata array to show (-1: all)"},
		},
		Action: inspect,
	}
}

type inspectTensor struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Dims   []uint64 `json:"dims"`
	Offset uint64   `json:"offset"`
	Size   uint64   `json:"size"`
}

type inspectArray struct {
	Type   string `json:"array"`
	Len    int    `json:"len"`
	Values any    `json:"values"`
}

type inspectResult struct {
	Version     uint32          `json:"version"`
	Alignment   int             `json:"alignment"`
	Metadata    map[string]any  `json:"metadata"`
	FileType    string          `json:"file_type,omitempty"` // general.file_type by name: "Q4_K_M"
	Config      *engine.Config  `json:"config,omitempty"`
	ConfigError string          `json:"config_error,omitempty"`
	Tensors     []inspectTensor `json:"tensors"`
	TensorBytes uint64          `json:"tensor_bytes"`
	Chat        *inspectChat    `json:"chat_template,omitempty"`
}

// inspectChat says how chat and server render a model's conversations.
type inspectChat struct {
	// Source is "model" (its tokenizer.chat_template, rendered as Jinja)
	// or "builtin".
	Source string `json:"source"`
	// Name is the built-in template used, or for the model's own the
	// built-in closest to it ("" when none is).
	Name     string `json:"name"`
	Bytes    int    `json:"bytes,omitempty"`    // of tokenizer.chat_template
	Fallback string `json:"fallback,omitempty"` // why the model's own is not used
	Error    string `json:"error,omitempty"`    // no template at all
}

// chatInfo describes the chat template of a model file; nil for a file
// without a vocabulary.
func chatInfo(f *gguf.File) *inspectChat {
	v, err := engine.VocabFrom(f)
	if err != nil {
		return nil
	}
	t, err := engine.ModelChatTemplate(f, v)
	if err != nil {
		return &inspectChat{Source: "builtin", Error: err.Error()}
	}
	if !t.Jinja() {
		return &inspectChat{Source: "builtin", Name: t.Name, Fallback: t.Fallback}
	}
	src, _ := f.String("tokenizer.chat_template")
	ic := &inspectChat{Source: "model", Bytes: len(src)}
	if near, err := engine.DetectChatTemplate(f, v); err == nil {
		ic.Name = near.Name
	}
	return ic
}

// String is the chat template in a line.
func (c *inspectChat) String() string {
	switch {
	case c.Error != "":
		return "none: " + c.Error
	case c.Source == "builtin":
		return "built-in " + c.Name + " (" + c.Fallback + ")"
	case c.Name != "":
		return fmt.Sprintf("the model's own (tokenizer.chat_template, %d bytes of Jinja; closest built-in: %s)", c.Bytes, c.Name)
	}
	return fmt.Sprintf("the model's own (tokenizer.chat_template, %d bytes of Jinja)", c.Bytes)
}

func inspect(c *cli.Context) error {
	path, err := modelPath(c)
	if err != nil {
		return err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	keep := c.Int("array-values")
	r := inspectResult{Version: f.Version, Alignment: f.Alignment, Metadata: map[string]any{}, Tensors: []inspectTensor{}}
	for _, kv := range f.KV {
		r.Metadata[kv.Key] = shortValue(kv.Value, keep)
	}
	if ft, ok := f.FileType(); ok {
		r.FileType = ft.String()
	}
	if cfg, err := engine.ConfigFrom(f); err == nil {
		r.Config = &cfg
	} else {
		r.ConfigError = err.Error()
	}
	r.Chat = chatInfo(f)
	for _, t := range f.Tensors {
		r.Tensors = append(r.Tensors, inspectTensor{t.Name, t.Type.String(), t.Dims, t.Offset, t.Size})
		r.TensorBytes += t.Size
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s: GGUF v%d, %d metadata keys, %d tensors, %.1f MiB of tensor data\n",
		path, f.Version, len(f.KV), len(f.Tensors), float64(r.TensorBytes)/(1<<20))
	if name, err := f.String("general.name"); err == nil {
		fmt.Fprintf(w, "\nmodel %s\n", name)
	}
	if r.Config != nil {
		cf := r.Config
		fmt.Fprintf(w, "\narchitecture %s: %d layers, embedding %d, feed-forward %d, %d heads (%d KV) of %d, vocabulary %d, context %d, rope base %g\n",
			cf.Architecture, cf.Layers, cf.Embedding, cf.FeedForward, cf.Heads, cf.KVHeads, cf.HeadDim, cf.Vocab, cf.Context, cf.RopeBase)
	} else {
		fmt.Fprintf(w, "\nnot computable by strata: %s\n", r.ConfigError)
	}
	if r.Chat != nil {
		fmt.Fprintf(w, "chat template %s\n", r.Chat)
	}
	fmt.Fprintln(w, "\nmetadata:")
	for _, kv := range f.KV {
		v := formatValue(kv.Value, keep)
		if ft, ok := f.FileType(); ok && kv.Key == gguf.KeyFileType {
			v = fmt.Sprintf("%s (%s)", ft, v)
		}
		fmt.Fprintf(w, "  %s\t%s\n", kv.Key, v)
	}
	fmt.Fprintln(w, "\ntensors:")
	for _, t := range r.Tensors {
		fmt.Fprintf(w, "  %s\t%s\t%v\t%d\n", t.Name, t.Type, t.Dims, t.Size)
	}
	return w.Flush()
}

// shortValue keeps the first keep values of arrays (all when keep < 0).
func shortValue(v any, keep int) any {
	a, ok := v.(gguf.Array)
	if !ok {
		return v
	}
	vals := reflect.ValueOf(a.Values)
	n := vals.Len()
	if keep >= 0 && n > keep {
		vals = vals.Slice(0, keep)
	}
	out := make([]any, vals.Len())
	for i := range out {
		out[i] = shortValue(vals.Index(i).Interface(), keep)
	}
	return inspectArray{Type: a.Type.String(), Len: n, Values: out}
}

func formatValue(v any, keep int) string {
	switch x := v.(type) {
	case string:
		s := fmt.Sprintf("%q", x)
		if len(s) > 120 {
			s = s[:117] + "..."
		}
		return s
	case gguf.Array:
		s := shortValue(x, keep).(inspectArray)
		parts := make([]string, 0, len(s.Values.([]any)))
		for _, e := range s.Values.([]any) {
			parts = append(parts, formatValue(e, keep))
		}
		more := ""
		if s.Len > len(parts) {
			more = ", ..."
		}
		return fmt.Sprintf("[%d × %s] [%s%s]", s.Len, s.Type, strings.Join(parts, ", "), more)
	}
	return fmt.Sprint(v)
}
