package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"strata/gpu"
)

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:         "devices",
		Usage:        "list the Vulkan devices",
		OnUsageError: usageError,
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			devs, err := gpu.Devices()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(devs)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			for _, d := range devs {
				fmt.Fprintf(w, "device %d: %s\n", d.Index, d.Name)
				fmt.Fprintf(w, "  type\t%s\n  Vulkan\t%s\n  driver\t%s\n", d.Type, d.APIVersion, d.Driver)
				for i, h := range d.Heaps {
					local := ""
					if h.DeviceLocal {
						local = " (device local)"
					}
					fmt.Fprintf(w, "  heap %d\t%.1f GiB%s\n", i, float64(h.Size)/(1<<30), local)
				}
				fmt.Fprintf(w, "  subgroup operations\t%s\n", strings.Join(d.SubgroupOps, ", "))
				fmt.Fprintf(w, "  subgroup size\t%d\n  max storage buffer\t%d MiB\n  max shared memory\t%d KiB\n  max workgroup invocations\t%d\n  timestamp period\t%g ns\n",
					d.SubgroupSize, d.MaxStorageBuffer>>20, d.MaxSharedMemory>>10, d.MaxInvocations, d.TimestampPeriod)
			}
			return w.Flush()
		},
	}
}
