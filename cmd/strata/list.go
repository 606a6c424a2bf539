package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/hub"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the models in the Hugging Face hub cache and in --models-dir",
		Description: "Every GGUF model of the hub cache (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub),\n" +
			"by the name run, chat and server take, and every GGUF file and 'strata split' manifest under --models-dir.",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array"},
			&cli.StringFlag{Name: "models-dir", EnvVars: []string{"STRATA_MODELS_DIR"}, Usage: "also list the models under `DIR`"},
		},
		Action: list,
	}
}

func list(c *cli.Context) error {
	if c.NArg() != 0 {
		return fmt.Errorf("list takes no arguments, got %q (see 'strata list --help')", c.Args().Slice())
	}
	rows, cacheDir, err := listModels(c.String("models-dir"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "no models in %s: 'strata pull mistral-7b' brings one\n", cacheDir)
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tARCH\tPARAMS\tQUANT\tSIZE\tCONTEXT\tPATH")
	for _, m := range rows {
		quant := m.Quantization
		if m.Error != "" {
			quant = "unreadable: " + m.Error
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", m.Name, dash(m.Architecture), paramString(m.Parameters),
			dash(quant), sizeString(m.Size), m.Context, m.Path)
	}
	return w.Flush()
}

// listModels is every model of the hub cache, then those under dir (when
// it is not empty): what 'strata list' prints and 'strata server
// --models-dir' serves. It returns the cache's folder too.
func listModels(dir string) ([]listedModel, string, error) {
	cache, err := hub.OpenCache()
	if err != nil {
		return nil, "", err
	}
	cached, err := cache.Models()
	if err != nil {
		return nil, "", err
	}
	rows := []listedModel{}
	for _, cm := range cached {
		m := listedModel{Name: cm.Name, Source: "hub", Size: cm.Size(), Path: cm.Paths[0]}
		m.describe(cm.Paths)
		rows = append(rows, m)
	}
	if dir != "" {
		found, err := modelsIn(dir)
		if err != nil {
			return nil, "", err
		}
		rows = append(rows, found...)
	}
	return rows, cache.Dir, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var splitPart = regexp.MustCompile(`-(\d{5})-of-(\d{5})\.gguf$`)

// modelsIn lists the GGUF files and manifests under dir, named by their
// path in it. A split's parts make one row; the fragment files of a
// manifest are listed as the manifest.
func modelsIn(dir string) ([]listedModel, error) {
	var rows []listedModel
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		base := strings.ToLower(d.Name())
		switch {
		case base == "manifest.json":
			rows = append(rows, fromManifest(filepath.Dir(rel), p))
		case strings.HasSuffix(base, ".gguf"):
			if m, ok := fromGGUF(rel, p); ok {
				rows = append(rows, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("--models-dir: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

// fromGGUF is the row of a GGUF file, or of the split whose first part it
// is; false for later parts and for 'strata split' fragments.
func fromGGUF(rel, path string) (listedModel, bool) {
	m := listedModel{Name: rel, Source: "dir", Path: path}
	paths := []string{path}
	if sm := splitPart.FindStringSubmatch(path); sm != nil {
		if sm[1] != "00001" {
			return m, false
		}
		n, _ := strconv.Atoi(sm[2])
		for i := 2; i <= n; i++ {
			paths = append(paths, strings.TrimSuffix(path, sm[0])+fmt.Sprintf("-%05d-of-%s.gguf", i, sm[2]))
		}
	}
	if f, err := gguf.Open(path); err == nil {
		_, fragment := f.Get(engine.KeyFragmentIndex)
		f.Close()
		if fragment {
			return m, false
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			m.Error = fmt.Sprintf("part %s is not here", filepath.Base(p))
			m.Files = len(paths)
			return m, true
		}
		m.Size += st.Size()
	}
	m.describe(paths)
	return m, true
}
