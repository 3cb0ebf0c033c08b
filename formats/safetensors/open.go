package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mlmf/formats"
)

func init() {
	formats.Register(formats.Format{
		Name:  "safetensors",
		Sniff: Sniff,
		Exts:  []string{".safetensors"},
		Dir:   IsDir,
		Open:  OpenPath,
	})
}

// OpenPath opens a safetensors checkpoint: a .safetensors file (Open), an
// index file (OpenSharded), or a directory holding an index (OpenSharded)
// or exactly one .safetensors file (Open).
func OpenPath(path string) (formats.Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", notFound(err))
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".index.json") || isIndexFile(path) {
			return openSharded(path)
		}
		return openFile(path)
	}
	index, err := findIndex(path)
	if err != nil {
		return nil, err
	}
	if index != "" {
		return openSharded(index)
	}
	files, err := safetensorsFiles(path)
	if err != nil {
		return nil, err
	}
	switch len(files) {
	case 0:
		return nil, fmt.Errorf("safetensors: %s: no .safetensors file or %s in the directory: %w",
			path, DefaultIndex, formats.ErrNotFound)
	case 1:
		return openFile(files[0])
	}
	return nil, fmt.Errorf("safetensors: %s: %d .safetensors files (%s) and no %s to tie them together; open one file, or add the index: %w",
		path, len(files), strings.Join(baseNames(files), ", "), DefaultIndex, formats.ErrUnsupported)
}

// openFile and openSharded return a nil interface, not a typed nil, on error.
func openFile(path string) (formats.Reader, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func openSharded(path string) (formats.Reader, error) {
	s, err := OpenSharded(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// safetensorsFiles lists the *.safetensors entries of dir that are not
// directories (symbolic links included, as in the hub cache).
func safetensorsFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".safetensors") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}

// IsDir reports whether dir holds a safetensors checkpoint: an index file
// or at least one .safetensors file.
func IsDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".safetensors") || strings.HasSuffix(e.Name(), IndexSuffix)) {
			return true
		}
	}
	return false
}

// Sniff reports whether head, the first bytes of a file, starts a
// safetensors file or a shard index.
//
// A safetensors file starts with a little-endian header length of at most
// MaxHeaderSize and, after optional JSON whitespace (the reference accepts
// leading whitespace), the '{' of the header.
//
// An index is JSON, which no magic number identifies, and its name
// (model.safetensors.index.json) ends in ".json", which no extension match
// can claim without claiming config.json too. So Sniff also accepts a JSON
// object whose first key is "metadata" or "weight_map": every index
// transformers and huggingface_hub write starts that way, and OpenPath then
// reports clearly if the file turns out not to be an index.
func Sniff(head []byte) bool {
	if len(head) > 8 {
		n := binary.LittleEndian.Uint64(head)
		if n >= 2 && n <= MaxHeaderSize {
			rest := head[8:]
			if uint64(len(rest)) > n {
				rest = rest[:n]
			}
			if rest = bytes.TrimLeft(rest, " \t\r\n"); len(rest) > 0 && rest[0] == '{' {
				return true
			}
		}
	}
	return sniffIndex(head)
}

func sniffIndex(head []byte) bool {
	rest := bytes.TrimLeft(head, " \t\r\n")
	if len(rest) == 0 || rest[0] != '{' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	return bytes.HasPrefix(rest, []byte(`"metadata"`)) || bytes.HasPrefix(rest, []byte(`"weight_map"`))
}

// isIndexFile sniffs the start of path for an index.
func isIndexFile(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	head := make([]byte, formats.SniffLen)
	n, _ := fh.Read(head)
	return sniffIndex(head[:n])
}
