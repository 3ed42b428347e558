package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// tailFile writes the last n lines of path (all if n <= 0) to w; with follow
// it keeps writing what is appended, across rotation (path replaced by a new
// file), until ctx ends.
func tailFile(ctx context.Context, path string, n int, follow bool, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && follow {
			f = nil
		} else {
			return err
		}
	}
	var off int64
	if f != nil {
		defer func() { f.Close() }()
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		off = int64(len(data))
		if _, err := w.Write(lastLines(data, n)); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	buf := make([]byte, 32<<10)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		// A rotated log is a new inode at path: switch to it from its start.
		if fi, err := os.Stat(path); err == nil {
			var cur os.FileInfo
			if f != nil {
				cur, _ = f.Stat()
			}
			if cur == nil || !os.SameFile(fi, cur) {
				if nf, err := os.Open(path); err == nil {
					if f != nil {
						// Drain what the old file got before rotating.
						if err := copyFrom(f, &off, buf, w); err != nil {
							nf.Close()
							return err
						}
						f.Close()
					}
					f, off = nf, 0
				}
			}
		}
		if f == nil {
			continue
		}
		if err := copyFrom(f, &off, buf, w); err != nil {
			return err
		}
	}
}

func copyFrom(f *os.File, off *int64, buf []byte, w io.Writer) error {
	for {
		n, err := f.ReadAt(buf, *off)
		if n > 0 {
			*off += int64(n)
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
	}
}

// lastLines returns the tail of data holding its last n lines (all if n <= 0).
func lastLines(data []byte, n int) []byte {
	if n <= 0 {
		return data
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	i := end
	for k := 0; k < n; k++ {
		j := bytes.LastIndexByte(data[:i], '\n')
		if j < 0 {
			return data
		}
		i = j
	}
	return data[i+1:]
}
