package common

import (
	"errors"
	"sync"
)

// ErrClosed: the checkpoint was closed (another one was opened) while a
// command still wanted to read it.
var ErrClosed = errors.New("checkpoint closed")

// cpState guards a Checkpoint's reader: readers' commands hold it shared,
// Close takes it exclusively, so a reader is never unmapped under a command
// that is still reading tensor bytes.
type cpState struct {
	mu     sync.RWMutex
	closed bool
}

// Acquire marks the reader in use; it fails once the checkpoint is closed.
func (c *Checkpoint) Acquire() error {
	c.state.mu.RLock()
	if c.state.closed {
		c.state.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Release ends a use started by Acquire.
func (c *Checkpoint) Release() { c.state.mu.RUnlock() }

// Close waits for the reader's users, then closes it. Call it from a command.
func (c *Checkpoint) Close() error {
	c.state.mu.Lock()
	defer c.state.mu.Unlock()
	if c.state.closed || c.Reader == nil {
		c.state.closed = true
		return nil
	}
	c.state.closed = true
	return c.Reader.Close()
}

// CanonicalNames returns the canonical name of every tensor under a mapping
// report, by tensor index ("" where unmapped).
func (c *Checkpoint) CanonicalNames(rep *MappingReport) []string {
	byName := make(map[string]string, len(rep.Rows))
	for _, r := range rep.Rows {
		byName[r.Name] = r.Canonical
	}
	out := make([]string, len(c.Infos))
	for i, t := range c.Infos {
		out[i] = byName[t.Name]
	}
	return out
}
