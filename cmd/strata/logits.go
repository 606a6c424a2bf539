package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"strata/engine"
)

func logitsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logits",
		Usage:     "write teacher-forced logits, one row per input position",
		ArgsUsage: "MODEL",
		Description: "Row i holds the logits that predict token i+1 from tokens 0..i:\n" +
			"n_vocab little-endian float32 values a row, rows back to back.",
		OnUsageError: usageError,
		Flags: append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "tokens", Usage: "comma-separated token `IDS`", Required: true},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the rows to `FILE`", Required: true},
		}, backendFlags()...),
		Action: func(c *cli.Context) error {
			path, err := onePath(c)
			if err != nil {
				return err
			}
			tokens, err := parseTokens(c.String("tokens"))
			if err != nil {
				return err
			}
			m, err := openModel(c, path)
			if err != nil {
				return err
			}
			defer m.Close()
			s, err := m.newSession(len(tokens), fmt.Sprintf("--tokens (%d of them)", len(tokens)))
			if err != nil {
				return err
			}
			logits := make([]float32, m.frag.OutputSize(len(tokens), true))
			if err := m.frag.Forward(logits, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
				return err
			}
			return writeFloats(c.String("output"), logits)
		},
	}
}

func parseTokens(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--tokens: %q is not a token id", f)
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}

func writeFloats(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
