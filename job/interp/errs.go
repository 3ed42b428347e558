package interp

import (
	"errors"
	"io/fs"
	"syscall"
)

var errNotDir = syscall.ENOTDIR

func errUnwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
