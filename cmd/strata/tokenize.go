package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:         "tokenize",
		Usage:        "print the token ids of a text",
		ArgsUsage:    "MODEL TEXT",
		Description:  "MODEL may be a vocabulary-only GGUF file, without tensors.",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			modelFlag(),
			&cli.BoolFlag{Name: "no-bos", Usage: "do not add the begin-of-text token"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of ids"},
			&cli.BoolFlag{Name: "special", Aliases: []string{"sp"}, Usage: "turn the text of control tokens (<s>, [INST], ...) into those tokens (a text that begins with <s> gets no second one)"},
		},
		Action: func(c *cli.Context) error {
			model, text := c.String("model"), c.Args().Get(1)
			switch {
			case model != "" && c.NArg() == 1:
				text = c.Args().Get(0)
			case model == "" && c.NArg() == 2:
				model = c.Args().Get(0)
			default:
				return fmt.Errorf("tokenize takes MODEL and TEXT (or -m MODEL and TEXT), got %s (see 'strata tokenize --help')",
					count(c.NArg(), "argument", "arguments"))
			}
			f, err := gguf.Open(model)
			if err != nil {
				return err
			}
			defer f.Close()
			v, err := engine.VocabFrom(f)
			if err != nil {
				return err
			}
			ids := v.Encode(text, !c.Bool("no-bos"), c.Bool("special"))
			if c.Bool("json") {
				if ids == nil {
					ids = []int32{}
				}
				return json.NewEncoder(os.Stdout).Encode(ids)
			}
			for _, id := range ids {
				fmt.Printf("%6d -> %s\n", id, strconv.Quote(v.Tokens[id]))
			}
			return nil
		},
	}
}
