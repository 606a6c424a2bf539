//go:build !unix

package hub

import "context"

// lock does nothing where there is no flock: two downloads of one file at
// once would each write their own .incomplete prefix and may clash.
func lock(context.Context, string, func()) (func(), error) { return func() {}, nil }
