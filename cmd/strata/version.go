package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// commit is the commit strata was built from, for builds without VCS
// stamping (-buildvcs=false): -ldflags "-X main.commit=...". The build
// info's vcs.revision comes first.
var commit = ""

func init() {
	cli.VersionPrinter = func(*cli.Context) { fmt.Println(versionLine()) }
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, the commit and the Go version strata was built with",
		Action: func(*cli.Context) error {
			fmt.Println(versionLine())
			return nil
		},
	}
}

// versionLine is "strata VERSION (commit HASH[, modified]), built with
// GO for OS/ARCH".
func versionLine() string {
	rev, modified, goVersion := commit, false, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if modified {
		rev += ", modified"
	}
	return fmt.Sprintf("strata %s (commit %s), built with %s for %s/%s", version, rev, goVersion, runtime.GOOS, runtime.GOARCH)
}
