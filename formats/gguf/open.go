package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"mlmf/formats"
)

// Split metadata keys, as gguf-split and llama.cpp write them.
const (
	KeySplitNo           = "split.no"
	KeySplitCount        = "split.count"
	KeySplitTensorsCount = "split.tensors.count"
)

func init() {
	formats.Register(formats.Format{
		Name:  "gguf",
		Exts:  []string{".gguf"},
		Sniff: func(h []byte) bool { return bytes.HasPrefix(h, []byte(Magic)) || bytes.HasPrefix(h, []byte("FUGG")) },
		Open: func(path string) (formats.Reader, error) {
			f, err := Open(path)
			if err != nil {
				return nil, err
			}
			return f, nil
		},
	})
}

// openPart opens and parses one file, memory-mapping it when it can.
func openPart(path string) (*part, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("gguf: %w", err)
	}
	size := st.Size()
	mem, unmap := mmapFile(fh, size)
	p, err := parse(fh, size, path, mem)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		fh.Close()
		return nil, err
	}
	p.closer = func() error {
		var err error
		if unmap != nil {
			err = unmap()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return p, nil
}

// splitName matches gguf-split's file names: PREFIX-00001-of-00003.gguf.
var splitName = regexp.MustCompile(`^(.*)-(\d{5})-of-(\d{5})\.gguf$`)

// SplitPath returns the name of split i (0-based) of n, as llama.cpp's
// llama_split_path makes it: PREFIX-0000{i+1}-of-0000{n}.gguf.
func SplitPath(prefix string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, i+1, n)
}

// Open opens a GGUF file, memory-mapped where possible. When the file is one
// split of a gguf-split model (it has split.count > 1), all splits are
// opened and presented as one model; any split's path will do.
func Open(path string) (*File, error) {
	p, err := openPart(path)
	if err != nil {
		return nil, err
	}
	count, isSplit, err := splitInfo(p)
	if err != nil {
		p.closer()
		return nil, err
	}
	if !isSplit || count <= 1 {
		return assemble([]*part{p})
	}
	m := splitName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		p.closer()
		return nil, fmt.Errorf("gguf: %s: split %s of a %d-file model, but the name does not end in -NNNNN-of-NNNNN.gguf, so the other splits cannot be found: rename it as gguf-split names splits: %w",
			path, splitNoString(p), count, ErrCorrupt)
	}
	prefix := filepath.Join(filepath.Dir(path), m[1])
	nInName, _ := strconv.Atoi(m[3])
	if nInName != count {
		p.closer()
		return nil, fmt.Errorf("gguf: %s: the name says %d splits but split.count is %d: %w", path, nInName, count, ErrCorrupt)
	}
	parts := make([]*part, count)
	closeAll := func() {
		for _, q := range parts {
			if q != nil && q.closer != nil {
				q.closer()
			}
		}
	}
	no, _ := splitNo(p)
	if no >= count {
		p.closer()
		return nil, fmt.Errorf("gguf: %s: split.no %d is not below split.count %d: %w", path, no, count, ErrCorrupt)
	}
	parts[no] = p
	for i := range parts {
		if parts[i] != nil {
			continue
		}
		sp := SplitPath(prefix, i, count)
		q, err := openPart(sp)
		if err != nil {
			closeAll()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("gguf: %s: split %d of %d is missing (%s): all splits must sit in the same directory: %w", path, i+1, count, sp, ErrNotFound)
			}
			return nil, err
		}
		parts[i] = q
		c, ok, err := splitInfo(q)
		if err != nil {
			closeAll()
			return nil, err
		}
		qn, _ := splitNo(q)
		if !ok || c != count || qn != i {
			closeAll()
			return nil, fmt.Errorf("gguf: %s: expected split %d of %d, found split.no=%s split.count=%d: %w", sp, i, count, splitNoString(q), c, ErrCorrupt)
		}
	}
	f, err := assemble(parts)
	if err != nil {
		closeAll()
		return nil, err
	}
	if want, ok := asInt(kvValue(parts[0].kvs, KeySplitTensorsCount)); ok && want != int64(len(f.tensors)) {
		closeAll()
		return nil, fmt.Errorf("gguf: %s: split.tensors.count says %d tensors but the %d splits hold %d: %w", path, want, count, len(f.tensors), ErrCorrupt)
	}
	return f, nil
}

func kvValue(kvs []KV, key string) any {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func splitInfo(p *part) (count int, ok bool, err error) {
	v := kvValue(p.kvs, KeySplitCount)
	if v == nil {
		return 0, false, nil
	}
	c, isInt := asUint(v)
	if !isInt || c == 0 || c > 99999 {
		return 0, false, fmt.Errorf("gguf: %s: %s is %v, want a count between 1 and 99999: %w", p.name, KeySplitCount, v, ErrCorrupt)
	}
	if _, ok := splitNo(p); !ok {
		return 0, false, fmt.Errorf("gguf: %s: %s is set but %s is missing: %w", p.name, KeySplitCount, KeySplitNo, ErrCorrupt)
	}
	return int(c), true, nil
}

func splitNo(p *part) (int, bool) {
	n, ok := asUint(kvValue(p.kvs, KeySplitNo))
	if !ok || n > 99999 {
		return 0, false
	}
	return int(n), true
}

func splitNoString(p *part) string {
	if n, ok := splitNo(p); ok {
		return strconv.Itoa(n)
	}
	return "?"
}
