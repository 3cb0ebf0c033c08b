package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mlmf/internal/atomicfile"
)

// journalMagic starts an in-place edit journal.
const journalMagic = "MLMFGGUFJOURNAL1"

// JournalPath returns where EditInPlace keeps the old header of path while
// it rewrites it.
func JournalPath(path string) string {
	return filepath.Join(filepath.Dir(path), ".mlmf-journal-"+filepath.Base(path))
}

// EditInPlace changes metadata as Edit does, but when the new header is
// exactly as long as the old one (after padding to the alignment, so the
// tensor data does not move) it overwrites the header in the file itself
// instead of copying gigabytes of tensor data. It reports whether it could;
// otherwise it falls back to Edit's atomic rewrite.
//
// Overwriting in place is made crash-safe with a journal: the old header is
// first written, fsynced and renamed into JournalPath(path); then the new
// header is written and fsynced; then the journal is removed. A crash
// before the journal exists leaves the old file; a crash after the new
// header is synced leaves a complete new header and a stale journal;
// between the two, the header may be torn and the journal holds the old
// one. Recover (which EditInPlace and Edit run first) puts the old header
// back whenever a journal is found, so the file is always either the old or
// the new one once recovered. Readers that open the file while a journal
// exists may see a torn header and fail cleanly with ErrCorrupt.
func EditInPlace(path string, set []KV, del []string) (bool, error) {
	if _, err := Recover(path); err != nil {
		return false, err
	}
	src, hdr, err := prepareEdit(path, set, del)
	if err != nil {
		return false, err
	}
	old := src.p.dataOffset
	if int64(len(hdr)) != old {
		src.close()
		return false, Edit(path, set, del)
	}
	oldHdr := make([]byte, old)
	if _, err := src.fh.ReadAt(oldHdr, 0); err != nil {
		src.close()
		return false, fmt.Errorf("gguf: %s: %w", path, err)
	}
	src.close()

	// 1. The journal: magic, header length, old header.
	jf, err := atomicfile.Create(JournalPath(path))
	if err != nil {
		return false, fmt.Errorf("gguf: %w", err)
	}
	var jb bytes.Buffer
	jb.WriteString(journalMagic)
	binary.Write(&jb, binary.LittleEndian, uint64(len(oldHdr)))
	jb.Write(oldHdr)
	if _, err := jf.Write(jb.Bytes()); err != nil {
		jf.Abort()
		return false, fmt.Errorf("gguf: %s: writing the journal: %w", path, err)
	}
	if err := jf.Commit(); err != nil {
		return false, fmt.Errorf("gguf: %s: writing the journal: %w", path, err)
	}
	// 2. The new header, synced.
	if err := writeHeaderAt(path, hdr); err != nil {
		return false, err
	}
	// 3. Done: drop the journal.
	if err := os.Remove(JournalPath(path)); err != nil {
		return true, fmt.Errorf("gguf: %s: the header was rewritten but the journal could not be removed: %w", path, err)
	}
	return true, atomicfile.SyncDir(filepath.Dir(path))
}

func writeHeaderAt(path string, hdr []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if _, err := fh.WriteAt(hdr, 0); err != nil {
		fh.Close()
		return fmt.Errorf("gguf: %s: writing the header: %w", path, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("gguf: %s: syncing the header: %w", path, err)
	}
	return fh.Close()
}

// Recover finishes an interrupted EditInPlace: when a journal for path
// exists, the old header it holds is written back and the journal removed.
// It reports whether there was anything to recover.
func Recover(path string) (bool, error) {
	jp := JournalPath(path)
	b, err := os.ReadFile(jp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gguf: %w", err)
	}
	n := len(journalMagic)
	if len(b) < n+8 || string(b[:n]) != journalMagic || binary.LittleEndian.Uint64(b[n:]) != uint64(len(b)-n-8) {
		// A journal is renamed into place only when complete, so a damaged
		// one was not written by EditInPlace: leave both files alone.
		return false, fmt.Errorf("gguf: %s: edit journal %s is damaged; check the file and remove the journal by hand: %w", path, jp, ErrCorrupt)
	}
	if err := writeHeaderAt(path, b[n+8:]); err != nil {
		return false, err
	}
	if err := os.Remove(jp); err != nil {
		return true, fmt.Errorf("gguf: %w", err)
	}
	return true, atomicfile.SyncDir(filepath.Dir(path))
}
