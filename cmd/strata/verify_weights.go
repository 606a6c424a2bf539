package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

// A weightsReport is what verify --weights found.
type weightsReport struct {
	Files    int             `json:"files"`
	Tensors  int             `json:"tensors"`
	Failures []weightFailure `json:"failures"`
	Verdict  string          `json:"verdict"`
}

type weightFailure struct {
	File   string `json:"file"`
	Tensor string `json:"tensor,omitempty"`
	Error  string `json:"error"`
}

// verifyWeights checks every tensor of a model, or of every fragment of a
// split: values and scales finite, and for a split, the bytes of each
// tensor (and each file) as the manifest's hashes say.
func verifyWeights(c *cli.Context, path string) error {
	r := &weightsReport{}
	if manifest, ok := manifestPath(path); ok {
		path = manifest
		m, err := engine.ReadManifest(path)
		if err != nil {
			return err
		}
		for _, fr := range m.Fragments {
			file := filepath.Join(filepath.Dir(path), fr.File)
			if sum, err := engine.HashFile(file); err != nil {
				r.fail(fr.File, "", err)
				continue
			} else if sum != fr.SHA256 {
				r.fail(fr.File, "", fmt.Errorf("the file's sha256 is %.16s…, the manifest says %.16s…", sum, fr.SHA256))
			}
			if err := r.checkFile(file, fr.Tensors); err != nil {
				return err
			}
		}
	} else if err := r.checkFile(path, nil); err != nil {
		return err
	}
	r.Verdict = "pass"
	if len(r.Failures) > 0 {
		r.Verdict = "fail"
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		for _, f := range r.Failures {
			fmt.Printf("%s: %s\n", f.File, f.Error)
		}
		fmt.Printf("%s in %s checked: %d failed\n", count(r.Tensors, "tensor", "tensors"), count(r.Files, "file", "files"), len(r.Failures))
	}
	if len(r.Failures) > 0 {
		return fmt.Errorf("verify --weights: %d of %d tensors failed (see above)", len(r.Failures), r.Tensors)
	}
	return nil
}

func (r *weightsReport) fail(file, tensor string, err error) {
	r.Failures = append(r.Failures, weightFailure{File: file, Tensor: tensor, Error: oneLine(err.Error())})
}

// checkFile checks one GGUF file's tensors, and their hashes when sums
// is not nil.
func (r *weightsReport) checkFile(path string, sums map[string]string) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r.Files++
	name := filepath.Base(path)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		data := f.TensorData(t)
		r.Tensors++
		if sums != nil {
			if want, ok := sums[t.Name]; !ok {
				r.fail(name, t.Name, fmt.Errorf("tensor %q is not in the manifest", t.Name))
			} else if got := engine.TensorHash(data); got != want {
				r.fail(name, t.Name, fmt.Errorf("tensor %q: its bytes hash to %.16s…, the manifest says %.16s…", t.Name, got, want))
				continue
			}
		}
		if err := engine.CheckTensor(t, data); err != nil {
			r.fail(name, t.Name, err)
		}
	}
	for t := range sums {
		if _, ok := f.Tensor(t); !ok {
			r.fail(name, t, fmt.Errorf("tensor %q of the manifest is missing", t))
		}
	}
	return nil
}
