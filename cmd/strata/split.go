package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

func splitCommand() *cli.Command {
	return &cli.Command{
		Name:      "split",
		Usage:     "cut a model into fragment files of contiguous layers, with a manifest",
		ArgsUsage: "MODEL",
		Description: "Writes DIR/manifest.json and one GGUF per fragment: its layers, the embedding in the first,\n" +
			"the final norm and head in the last, and all the model's metadata. It streams; the model\n" +
			"is never held in memory.",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			modelFlag(),
			&cli.IntFlag{Name: "parts", Usage: "cut into `N` fragments of as even a cost as the layers allow: the bytes each reads a token (its layers, the head in the last), then the bytes each holds (the embedding in the first)"},
			&cli.StringFlag{Name: "layers", Usage: "cut at these inclusive `RANGES`: 0-9,10-19,20-31"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write to `DIR`"},
		},
		Action: func(c *cli.Context) error {
			path, err := onePath(c)
			if err != nil {
				return err
			}
			var ranges [][2]int
			switch {
			case c.IsSet("parts") == c.IsSet("layers"):
				return fmt.Errorf("give one of --parts N or --layers RANGES")
			case c.IsSet("parts"):
				f, err := gguf.Open(path)
				if err != nil {
					return err
				}
				ranges, err = engine.BalancedRanges(f, c.Int("parts"))
				f.Close()
				if err != nil {
					return err
				}
			default:
				if ranges, err = engine.ParseLayerRanges(c.String("layers")); err != nil {
					return err
				}
			}
			progress := func(done, total int64) {}
			if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				last := -1
				progress = func(done, total int64) {
					if pct := int(100 * done / max(total, 1)); pct != last {
						last = pct
						fmt.Fprintf(os.Stderr, "\rsplitting: %3d%% of %d MiB", pct, total>>20)
					}
				}
			}
			m, err := engine.Split(path, ranges, c.String("output"), progress)
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr)
			for _, fr := range m.Fragments {
				fmt.Printf("fragment %d: layers %d-%d, %s, %.1f MiB, needs %.1f MiB\n", fr.Index, fr.Start, fr.End-1, fr.File,
					float64(fr.Size)/(1<<20), float64(fr.MemoryBytes)/(1<<20))
			}
			return nil
		},
	}
}
