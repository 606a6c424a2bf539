// Command strata runs llama-family language models on a CPU or any Vulkan
// device, alone or split across peers.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := newApp()
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if msg := oneLine(err.Error()); msg != "" {
			fmt.Fprintln(os.Stderr, "strata: "+msg)
		}
		os.Exit(code)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "strata",
		Usage:   "run llama-family models on CPUs and Vulkan devices, alone or across peers",
		Version: version,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Usage: "log debug details to stderr"},
		},
		Before: func(c *cli.Context) error {
			level := slog.LevelInfo
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
				Level: level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{} // a terminal has its own clock
					}
					return a
				},
			})))
			return checkMemoryEnv()
		},
		Commands: []*cli.Command{
			versionCommand(),
			inspectCommand(),
			runCommand(),
			tokenizeCommand(),
			logitsCommand(),
			chatCommand(),
			devicesCommand(),
			benchCommand(),
			splitCommand(),
			serveCommand(),
			serverCommand(),
			peersCommand(),
			verifyCommand(),
			swarmCommand(),
			pullCommand(),
			listCommand(),
			rmCommand(),
		},
		OnUsageError:   usageError,
		ExitErrHandler: func(*cli.Context, error) {}, // main prints errors
	}
}

// usageError turns a flag parsing error into one line that points to --help.
func usageError(c *cli.Context, err error, _ bool) error {
	name := "strata"
	if c.Command != nil && c.Command.Name != "" {
		name += " " + c.Command.Name
	}
	return fmt.Errorf("%w (see '%s --help')", err, name)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// count writes n with the noun's singular or plural: "1 thread", "2 threads".
func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// interspersed lets flags follow positional arguments, as in
// `strata run MODEL -p TEXT`: it moves a command's flags (with their
// values) in front of its positional arguments. "--" ends flags.
func interspersed(app *cli.App, args []string) []string {
	at := 1 // skip the app's own flags (all boolean) before the command
	for at < len(args) && strings.HasPrefix(args[at], "-") && args[at] != "--" {
		at++
	}
	if at >= len(args) {
		return args
	}
	cmd := app.Command(args[at])
	if cmd == nil {
		return args
	}
	prefix := at + 1
	for prefix < len(args) && len(cmd.Subcommands) > 0 {
		sub := cmd.Command(args[prefix])
		if sub == nil {
			return args // flags of the parent command, or help: leave as given
		}
		cmd = sub
		prefix++
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[prefix:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append(append([]string{}, args[:prefix]...), flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}
