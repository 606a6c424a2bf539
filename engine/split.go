package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"strata/gguf"
)

// Metadata keys a fragment file carries besides its model's.
const (
	KeyFragmentStart = "strata.fragment.start" // first layer
	KeyFragmentEnd   = "strata.fragment.end"   // one past the last layer
	KeyFragmentIndex = "strata.fragment.index"
	KeyFragmentCount = "strata.fragment.count"
)

// A Manifest describes a model split into fragment files.
type Manifest struct {
	Model        string             `json:"model"`
	Architecture string             `json:"architecture"`
	Layers       int                `json:"layers"`
	Source       ManifestSource     `json:"source"`
	Fragments    []ManifestFragment `json:"fragments"`
}

// ManifestSource names the file a model was split from.
type ManifestSource struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// HeaderBytes and HeaderSHA256 are the size and sha256 of the file's
	// header (its metadata and tensor table, up to the tensor data), so
	// that a peer can fetch the header and then any layers' tensors, each
	// checked against the fragments' tensor hashes.
	HeaderBytes  int64  `json:"header_bytes,omitempty"`
	HeaderSHA256 string `json:"header_sha256,omitempty"`
}

// ManifestFragment is one fragment file.
type ManifestFragment struct {
	Index  int    `json:"index"`
	Start  int    `json:"start"` // first layer
	End    int    `json:"end"`   // one past the last layer
	File   string `json:"file"`  // relative to the manifest
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// MemoryBytes is what serving the fragment takes: its weights and an
	// f32 KV cache of ContextForMemory positions.
	MemoryBytes int64 `json:"memory_bytes"`
	// Tensors maps each tensor's name to the sha256 of its bytes, so that
	// strata verify --weights can name the tensor a damaged file changed.
	Tensors map[string]string `json:"tensors,omitempty"`
}

// ContextForMemory is the context length MemoryBytes assumes.
const ContextForMemory = 4096

// ReadManifest reads a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("engine: manifest %s: %w", path, err)
	}
	if len(m.Fragments) == 0 {
		return nil, fmt.Errorf("engine: manifest %s lists no fragments", path)
	}
	next := 0
	for i, f := range m.Fragments {
		if f.Index != i || f.Start != next || f.End <= f.Start || f.End > m.Layers || strings.Contains(f.File, "/") || strings.Contains(f.File, "..") {
			return nil, fmt.Errorf("engine: manifest %s: fragment %d is not the next range of layers in a file beside it", path, i)
		}
		next = f.End
	}
	if next != m.Layers {
		return nil, fmt.Errorf("engine: manifest %s: fragments cover %d of %d layers", path, next, m.Layers)
	}
	return &m, nil
}

// ParseLayerRanges parses "0-9,10-19,20-31" (inclusive ranges) into
// [start, end) pairs.
func ParseLayerRanges(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || hi < lo {
			return nil, fmt.Errorf("engine: layer range %q is not FIRST-LAST", part)
		}
		out = append(out, [2]int{lo, hi + 1})
	}
	return out, nil
}

// FormatLayerRanges writes [start, end) pairs as ParseLayerRanges reads
// them, inclusive: "0-9,10-19,20-31".
func FormatLayerRanges(ranges [][2]int) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		parts[i] = fmt.Sprintf("%d-%d", r[0], r[1]-1)
	}
	return strings.Join(parts, ",")
}

// FragmentFile reports whether f is a fragment file written by Split,
// and then describes it as split and serve number fragments: "fragment 1
// (layers 10-19 of 32)".
func FragmentFile(f *gguf.File) (string, bool) {
	start, err := f.Int(KeyFragmentStart)
	if err != nil {
		return "", false
	}
	end, _ := f.Int(KeyFragmentEnd)
	index, _ := f.Int(KeyFragmentIndex)
	layers := ""
	if arch, err := f.String("general.architecture"); err == nil {
		if n, err := f.Int(arch + ".block_count"); err == nil {
			layers = fmt.Sprintf(" of %d", n)
		}
	}
	return fmt.Sprintf("fragment %d (layers %d-%d%s)", index, start, end-1, layers), true
}

// EvenRanges cuts layers into parts ranges of nearly equal length.
func EvenRanges(layers, parts int) ([][2]int, error) {
	if parts < 1 || parts > layers {
		return nil, fmt.Errorf("engine: cannot cut %d layers into %d parts", layers, parts)
	}
	var out [][2]int
	for i := range parts {
		out = append(out, [2]int{i * layers / parts, (i + 1) * layers / parts})
	}
	return out, nil
}

// Split writes one GGUF file per range of layers into dir, with every
// metadata key of the model plus the fragment keys, the tensors of its
// layers, the embedding in the first, the final norm and head in the last,
// and a manifest.json. Tensor data streams from the source's mapping; the
// model is never held in memory. progress, if not nil, is called with the
// bytes written so far and the total.
func Split(src string, ranges [][2]int, dir string, progress func(done, total int64)) (*Manifest, error) {
	f, err := gguf.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if frag, ok := FragmentFile(f); ok {
		return nil, fmt.Errorf("engine: %s is %s of a split model, not a whole model: split the model it was cut from", filepath.Base(src), frag)
	}
	c, err := CheckModel(f)
	if err != nil {
		return nil, err
	}
	next := 0
	for _, r := range ranges {
		if r[0] != next || r[1] <= r[0] {
			return nil, fmt.Errorf("engine: layer ranges %s: each must start where the one before ends, from layer 0", FormatLayerRanges(ranges))
		}
		next = r[1]
	}
	if next != c.Layers {
		return nil, fmt.Errorf("engine: layer ranges %s end at layer %d, the model's last is %d", FormatLayerRanges(ranges), next-1, c.Layers-1)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	m := &Manifest{Model: c.Name, Architecture: c.Architecture, Layers: c.Layers}
	m.Source.File = filepath.Base(src)
	if m.Source.SHA256, m.Source.Size, err = hashFile(src); err != nil {
		return nil, err
	}
	if m.Source.HeaderSHA256, err = hashPrefix(src, f.DataStart); err != nil {
		return nil, err
	}
	m.Source.HeaderBytes = f.DataStart
	parts := make([][]*gguf.TensorInfo, len(ranges))
	var total int64
	for i, r := range ranges {
		parts[i] = FragmentTensors(f, r[0], r[1], i == 0, i == len(ranges)-1)
		for _, t := range parts[i] {
			total += int64(t.Size)
		}
	}
	var done int64
	base := strings.TrimSuffix(filepath.Base(src), ".gguf")
	for i, r := range ranges {
		w := &gguf.Writer{}
		for _, kv := range f.KV {
			if err := w.Set(kv.Key, kv.Value); err != nil {
				return nil, err
			}
		}
		w.Set(c.Architecture+".vocab_size", uint32(c.Vocab))
		w.Set(KeyFragmentStart, uint32(r[0]))
		w.Set(KeyFragmentEnd, uint32(r[1]))
		w.Set(KeyFragmentIndex, uint32(i))
		w.Set(KeyFragmentCount, uint32(len(ranges)))
		var weights int64
		sums := map[string]string{}
		for _, t := range parts[i] {
			data := f.TensorData(t)
			sums[t.Name] = TensorHash(data)
			if err := w.AddTensorReader(t.Name, t.Type, t.Dims, int64(len(data)), &progressReader{data: data, done: &done, total: total, report: progress}); err != nil {
				return nil, err
			}
			weights += int64(t.Size)
		}
		name := fmt.Sprintf("%s.%02d-of-%02d.gguf", base, i+1, len(ranges))
		sum, size, err := writeHashed(filepath.Join(dir, name), w)
		if err != nil {
			return nil, err
		}
		kv := c.Memory(r[1]-r[0], ContextForMemory, 0).KV
		m.Fragments = append(m.Fragments, ManifestFragment{Index: i, Start: r[0], End: r[1], File: name,
			Size: size, SHA256: sum, MemoryBytes: weights + kv, Tensors: sums})
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return m, nil
}

// WeightBytes is the size of the weights a fragment of layers [start,
// end) of the model in f loads (Fragment.WeightBytes once loaded): its
// layers' tensors, the embedding if first, the final norm and head if
// last (the embedding, where the head is tied to it and the fragment is
// not first too). start = end counts the ends alone.
func WeightBytes(f *gguf.File, start, end int, first, last bool) int64 {
	var n int64
	for _, t := range FragmentTensors(f, start, end, first, last) {
		if t.Name != "rope_freqs.weight" { // read apart, not loaded
			n += int64(t.Size)
		}
	}
	return n
}

// FragmentTensors lists the tensors a fragment of layers [start, end)
// of the model in f needs: its layers', the embedding if first, the final
// norm and head if last, and the RoPE frequencies any fragment reads.
func FragmentTensors(f *gguf.File, start, end int, first, last bool) []*gguf.TensorInfo {
	var out []*gguf.TensorInfo
	_, hasOutput := f.Tensor("output.weight")
	for i := range f.Tensors {
		t := &f.Tensors[i]
		keep := false
		switch t.Name {
		case "token_embd.weight":
			keep = first || (last && !hasOutput) // the tied head is the embedding
		case "output_norm.weight", "output.weight":
			keep = last
		case "rope_freqs.weight":
			keep = true
		default:
			if rest, ok := strings.CutPrefix(t.Name, "blk."); ok {
				n, _, _ := strings.Cut(rest, ".")
				l, err := strconv.Atoi(n)
				keep = err == nil && l >= start && l < end
			}
		}
		if keep {
			out = append(out, t)
		}
	}
	return out
}

type progressReader struct {
	data   []byte
	done   *int64
	total  int64
	report func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	*p.done += int64(n)
	if p.report != nil {
		p.report(*p.done, p.total)
	}
	return n, nil
}

// writeHashed writes w to path (through a temporary file) and returns the
// file's sha256 and size.
func writeHashed(path string, w *gguf.Writer) (string, int64, error) {
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return "", 0, fmt.Errorf("engine: %w", err)
	}
	h := sha256.New()
	n, err := w.WriteTo(io.MultiWriter(out, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("engine: write %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// hashFile returns the sha256 and size of a file.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("engine: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("engine: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// hashPrefix returns the sha256 of the first n bytes of the file at path.
func hashPrefix(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HashFile returns the hex sha256 of a file.
func HashFile(path string) (string, error) {
	s, _, err := hashFile(path)
	return s, err
}
