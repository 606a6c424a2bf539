package engine

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// physicalMemory is the machine's RAM, or the memory limit of the
// process's cgroup when that is lower; 0 when neither can be read.
func physicalMemory() (int64, string) {
	var info syscall.Sysinfo_t
	if syscall.Sysinfo(&info) != nil {
		return 0, ""
	}
	n, source := int64(info.Totalram)*int64(info.Unit), "the machine's memory"
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && limit < n {
			n, source = limit, "the memory limit of strata's cgroup"
		}
		break
	}
	return n, source
}
