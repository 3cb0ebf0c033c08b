//go:build !(linux || darwin || freebsd)

package engine

// dropPages is a no-op where madvise is not available.
func dropPages([]byte) {}
