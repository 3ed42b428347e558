package residency

import "syscall"

// Trim drops this process's page-table entries for the read-only mappings
// of its executable (code and constant data). The pages stay in the page
// cache, shared with every other warren process, and the process faults
// back in only what it touches from then on.
//
// A long-running process calls it once its start-up is over: a warren
// daemon touches about 19 MB of its 40 MB binary while every linked
// package initialises, and uses a small part of that afterwards. Trimmed,
// the rest no longer counts in its resident set and the kernel can reclaim
// it under memory pressure without unmapping it from a live process.
// Read-only mappings cannot hold modified pages, so nothing is lost;
// writable ones are never touched.
func Trim() error {
	exe, maps, err := selfMaps()
	if err != nil {
		return err
	}
	for _, m := range maps {
		if m.path == exe && !m.writable {
			if err := madvise(m.start, m.end-m.start, syscall.MADV_DONTNEED); err != nil {
				return err
			}
		}
	}
	return nil
}
