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
			&cli.BoolFlag{Name: "no-bos", Usage: "do not add the begin-of-text token"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of ids"},
			&cli.BoolFlag{Name: "special", Usage: "turn the text of control tokens (<s>, [INST], ...) into those tokens"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("tokenize takes MODEL and TEXT, got %d arguments (see 'strata tokenize --help')", c.NArg())
			}
			f, err := gguf.Open(c.Args().Get(0))
			if err != nil {
				return err
			}
			defer f.Close()
			v, err := engine.VocabFrom(f)
			if err != nil {
				return err
			}
			ids := v.Encode(c.Args().Get(1), !c.Bool("no-bos"), c.Bool("special"))
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
