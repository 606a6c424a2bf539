package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"strata/hub"
)

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove a model from the Hugging Face hub cache",
		ArgsUsage: "NAME...",
		Description: "Removes each model (REPO:QUANT, REPO:FILE or an alias, as 'strata list' names them): its links in\n" +
			"every snapshot, the blobs no other file links, and the repository's folder once nothing is left in it.",
		OnUsageError: usageError,
		Action:       rm,
	}
}

func rm(c *cli.Context) error {
	if c.NArg() == 0 {
		return fmt.Errorf("rm takes the names of models to remove (see 'strata list')")
	}
	cache, err := hub.OpenCache()
	if err != nil {
		return err
	}
	for _, arg := range c.Args().Slice() {
		name, err := hub.ParseName(arg)
		if err != nil {
			return err
		}
		r, err := cache.Remove(name)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("removed %s: %s freed", r.Model.Name, sizeString(r.Freed))
		switch len(r.Kept) {
		case 0:
		case 1:
			what += ", 1 blob kept: another snapshot links it"
		default:
			what += fmt.Sprintf(", %d blobs kept: other snapshots link them", len(r.Kept))
		}
		if r.RepoGone {
			what += ", " + r.RepoDir + " removed"
		}
		fmt.Println(what)
	}
	return nil
}
