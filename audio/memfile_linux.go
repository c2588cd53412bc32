package audio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memInput returns data in an anonymous memory file (memfd_create): it lives
// in RAM like any other allocation, has no name in any file system and
// vanishes with its last descriptor, so a crash leaves nothing behind. The
// file is sealed against writes and resizing before ffmpeg sees it.
func memInput(data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("voxgate-audio", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "memfd:voxgate-audio")
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			f.Close()
			return nil, err
		}
		rest = rest[n:]
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return f, nil
}
