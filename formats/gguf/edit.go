package gguf

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"mlmf/internal/atomicfile"
)

// SetKV returns kvs with kv set: replaced where its key already is (keeping
// the position), appended otherwise. Like append, it may reuse kvs's
// backing array.
func SetKV(kvs []KV, kv KV) []KV {
	for i := range kvs {
		if kvs[i].Key == kv.Key {
			kvs[i] = kv
			return kvs
		}
	}
	return append(kvs, kv)
}

// DeleteKV returns kvs without key, and whether it was there. It shifts
// the elements of kvs's backing array.
func DeleteKV(kvs []KV, key string) ([]KV, bool) {
	for i := range kvs {
		if kvs[i].Key == key {
			return append(kvs[:i], kvs[i+1:]...), true
		}
	}
	return kvs, false
}

// encodeHeader encodes a header for existing tensor infos, keeping their
// stored data offsets, and pads it to the alignment.
func encodeHeader(kvs []KV, tensors []TensorInfo, align uint64) ([]byte, error) {
	if err := checkKVs(kvs); err != nil {
		return nil, err
	}
	e := &encoder{}
	e.b = append(e.b, Magic...)
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		if err := e.value(kv.Value, 0); err != nil {
			return nil, fmt.Errorf("key %q: %w", kv.Key, err)
		}
	}
	for _, t := range tensors {
		id, _ := t.DType.GGML()
		if t.DataOffset%align != 0 {
			return nil, fmt.Errorf("tensor %q: data offset %d is not a multiple of the new alignment %d: %w", t.Name, t.DataOffset, align, ErrUnsupported)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.NE)))
		for _, n := range t.NE {
			e.u64(uint64(n))
		}
		e.u32(id)
		e.u64(t.DataOffset)
	}
	n, err := alignUp(int64(len(e.b)), align)
	if err != nil {
		return nil, err
	}
	return append(e.b, make([]byte, n-int64(len(e.b)))...), nil
}

// Edit changes the metadata of the GGUF file at path: the KVs of set are
// set (replaced in place, or appended when new), the keys of del removed
// (each must exist). Tensor infos and data are kept byte for byte; the
// result is GGUF v3 (a v2 input is upgraded: v2 and v3 differ only in
// that v3 may be big-endian).
//
// The file is always rewritten atomically — a new file beside it (the data
// copied with copy_file_range where the file system offers it, a reflink on
// btrfs and XFS), fsynced and renamed over the old one — so a crash leaves
// either the old file or the new one, never a torn header. Rewriting only
// the header in place when its size is unchanged would save the copy but
// cannot be made crash-safe without a journal: a crash mid-write would
// leave a file whose header is half old, half new. EditInPlace does that
// with a journal, for files too large to copy.
//
// Split models: Edit changes the one file named by path.
func Edit(path string, set []KV, del []string) error {
	if _, err := Recover(path); err != nil {
		return err
	}
	src, hdr, err := prepareEdit(path, set, del)
	if err != nil {
		return err
	}
	defer src.close()
	af, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer af.Abort()
	if _, err := af.Write(hdr); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	if _, err := src.fh.Seek(src.p.dataOffset, io.SeekStart); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	n := src.p.size - src.p.dataOffset
	if n > 0 {
		copied, err := io.Copy(af.File, io.LimitReader(src.fh, n))
		if err != nil {
			return fmt.Errorf("gguf: %s: copying tensor data: %w", path, err)
		}
		if copied != n {
			return fmt.Errorf("gguf: %s: copied %d of %d data bytes; the file changed while being edited: %w", path, copied, n, ErrCorrupt)
		}
	}
	if err := af.Commit(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

type editSource struct {
	fh *os.File
	p  *part
}

func (s *editSource) close() { s.fh.Close() }

// prepareEdit parses path and encodes its new header.
func prepareEdit(path string, set []KV, del []string) (*editSource, []byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("gguf: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("gguf: %w", err)
	}
	p, err := parse(fh, st.Size(), path, nil)
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	if p.bigEndian {
		fh.Close()
		return nil, nil, fmt.Errorf("gguf: %s: editing big-endian files is not supported: %w", path, ErrUnsupported)
	}
	kvs := append([]KV(nil), p.kvs...)
	for _, kv := range set {
		t, _, err := typeOf(kv.Value)
		if err != nil || t != kv.Type {
			fh.Close()
			return nil, nil, fmt.Errorf("gguf: %s: key %q: value %T does not match type %s: %w", path, kv.Key, kv.Value, kv.Type, ErrCorrupt)
		}
		kvs = SetKV(kvs, kv)
	}
	for _, k := range del {
		var ok bool
		kvs, ok = DeleteKV(kvs, k)
		if !ok {
			fh.Close()
			return nil, nil, fmt.Errorf("gguf: %s: cannot delete key %q: no such key: %w", path, k, ErrNotFound)
		}
	}
	align, err := alignmentOf(kvs)
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	hdr, err := encodeHeader(kvs, p.tensors, align)
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	return &editSource{fh: fh, p: p}, hdr, nil
}

// ParseOverride parses KEY=TYPE:VALUE as llama.cpp's --override-kv does
// (common/common.cpp string_parse_kv_override), with the types int, float,
// bool and str, and returns the KV llama-quantize writes for it
// (src/llama-quant.cpp): int as uint32 of the absolute value, float as
// float32, bool, str as string.
//
// Differences, all in the direction of refusing what llama.cpp would
// silently misread: a number that does not parse completely is an error
// (llama.cpp's atol/atof take the longest valid prefix, "12abc" → 12, "x" →
// 0), an int whose absolute value passes uint32 is an error (llama.cpp
// truncates), and an empty key is an error. A str value longer than 127
// bytes is accepted (llama.cpp refuses it because of its fixed buffer),
// since editing a chat template needs long strings.
func ParseOverride(s string) (KV, error) {
	key, rest, ok := strings.Cut(s, "=")
	if !ok {
		return KV{}, fmt.Errorf("gguf: override %q: want KEY=TYPE:VALUE (TYPE is int, float, bool or str): %w", s, ErrCorrupt)
	}
	if key == "" {
		return KV{}, fmt.Errorf("gguf: override %q: empty key: %w", s, ErrCorrupt)
	}
	if len(key) >= 128 {
		return KV{}, fmt.Errorf("gguf: override %q: key of %d bytes, llama.cpp allows at most 127: %w", s, len(key), ErrCorrupt)
	}
	typ, val, ok := strings.Cut(rest, ":")
	if !ok {
		typ = ""
	}
	switch typ {
	case "int":
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return KV{}, fmt.Errorf("gguf: override %q: %q is not an integer: %w", s, val, ErrCorrupt)
		}
		if n < 0 {
			if n == math.MinInt64 {
				return KV{}, fmt.Errorf("gguf: override %q: %d is out of range: %w", s, n, ErrCorrupt)
			}
			n = -n // llama-quantize writes (uint32_t)std::abs(val)
		}
		if n > math.MaxUint32 {
			return KV{}, fmt.Errorf("gguf: override %q: %d does not fit the uint32 llama-quantize writes: %w", s, n, ErrCorrupt)
		}
		return Uint32(key, uint32(n)), nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return KV{}, fmt.Errorf("gguf: override %q: %q is not a number: %w", s, val, ErrCorrupt)
		}
		return Float32(key, float32(f)), nil
	case "bool":
		switch val {
		case "true":
			return Bool(key, true), nil
		case "false":
			return Bool(key, false), nil
		}
		return KV{}, fmt.Errorf("gguf: override %q: bool value must be true or false: %w", s, ErrCorrupt)
	case "str":
		return String(key, val), nil
	}
	return KV{}, fmt.Errorf("gguf: override %q: unknown type %q: want int, float, bool or str: %w", s, typ, ErrCorrupt)
}
