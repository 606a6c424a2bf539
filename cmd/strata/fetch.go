package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/hub"
	"strata/transport"
)

// fetchFragment downloads a missing fragment file from the --fetch-from
// peers into FILE.incomplete, resuming what an earlier attempt left there
// (from any peer): each peer in turn sends the bytes from where the file
// stops, until one round of them brings nothing more. A peer that sends no
// byte for --fetch-stall-timeout is left for the next; there is no limit
// on the whole. The file takes its name once its sha256 is the manifest's.
func fetchFragment(c *cli.Context, path string, fr engine.ManifestFragment, id *transport.Identity, swarm transport.Swarm) error {
	part := path + ".incomplete"
	h := sha256.New()
	have, err := resumeHash(part, fr.Size, h)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	progress := hub.NewProgress(os.Stderr, slog.Default())
	meter := progress.Start(fr.File, fr.Size, have)
	stall := c.Duration("fetch-stall-timeout")
	var errs []error
	for moved := true; moved && have < fr.Size; {
		moved = false
		for _, addr := range splitList(c.String("fetch-from")) {
			if have == fr.Size {
				break
			}
			n, err := fetchFrom(c.Context, addr, fr, have, id, swarm, stall, &hashingWriter{out, h, meter})
			have += n
			moved = moved || n > 0
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				slog.Debug("fetch stopped", "from", addr, "fragment", fr.Index, "have", have, "err", err)
			}
			if c.Context.Err() != nil {
				meter.Done(c.Context.Err())
				progress.Wait()
				return fmt.Errorf("fragment %d (%s): fetch stopped at byte %d of %d, kept in %s for the next start", fr.Index, fr.File, have, fr.Size, part)
			}
		}
	}
	if have < fr.Size {
		meter.Done(errors.New("incomplete"))
		progress.Wait()
		return fmt.Errorf("fragment %d (%s) is missing and no peer sent the rest of it (%d of %d bytes kept in %s): %w",
			fr.Index, fr.File, have, fr.Size, part, errors.Join(errs...))
	}
	if err := out.Close(); err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != fr.SHA256 {
		os.Remove(part)
		meter.Done(errors.New("sha256 mismatch"))
		progress.Wait()
		return fmt.Errorf("fragment %d (%s): the peers sent a file whose sha256 is %s, the manifest says %s: it was removed",
			fr.Index, fr.File, sum, fr.SHA256)
	}
	meter.Done(nil)
	progress.Wait()
	if err := os.Rename(part, path); err != nil {
		return err
	}
	slog.Info("fetched fragment", "file", fr.File, "bytes", fr.Size)
	return nil
}

// resumeHash hashes what an earlier fetch left in part into h and returns
// its length; a file longer than the fragment starts again.
func resumeHash(part string, size int64, h hash.Hash) (int64, error) {
	f, err := os.Open(part)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() > size {
		return 0, os.Truncate(part, 0)
	}
	return io.Copy(h, f)
}

// fetchFrom asks one peer for the fragment's bytes from offset on; it
// gives up when no byte comes for stall.
func fetchFrom(ctx context.Context, addr string, fr engine.ManifestFragment, offset int64, id *transport.Identity,
	swarm transport.Swarm, stall time.Duration, w io.Writer) (int64, error) {
	dctx, cancel := context.WithTimeout(ctx, stall)
	p, err := transport.Dial(dctx, addr, transport.DialOptions{Identity: id, Swarm: swarm})
	cancel()
	if err != nil {
		return 0, err
	}
	defer p.Close()
	return p.FetchFrom(ctx, fr.SHA256, fr.Size, transport.FetchOptions{Offset: offset, Stall: stall}, w)
}

// hashingWriter writes to w (a file, or a place in one), hashes and
// counts what reached it.
type hashingWriter struct {
	w     io.Writer
	h     hash.Hash
	meter hub.Meter
}

func (w *hashingWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.h.Write(b[:n])
	w.meter.Add(int64(n))
	return n, err
}
