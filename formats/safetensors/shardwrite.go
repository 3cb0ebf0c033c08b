package safetensors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mlmf/formats"
	"mlmf/internal/atomicfile"
)

// Writer writes safetensors checkpoints; it implements formats.Writer.
type Writer struct {
	// MaxShardSize splits the tensors into shards of at most this many bytes
	// of tensor data (see WriteSharded); 0 writes one file.
	MaxShardSize int64
	// Progress, when set, is called with the bytes of tensor data written so
	// far and the total.
	Progress func(done, total int64)
}

// Write writes tensors and metadata. Without MaxShardSize, path is the file
// to write. With it, path is a directory, or a file name whose base names
// the shards: ".../model.safetensors" writes model-00001-of-0000N.safetensors
// and model.safetensors.index.json beside it.
func (w Writer) Write(ctx context.Context, path string, tensors []formats.Tensor, meta map[string]string) error {
	var opts []WriteOption
	if w.Progress != nil {
		opts = append(opts, WithProgress(w.Progress))
	}
	if w.MaxShardSize <= 0 {
		return WriteFile(ctx, path, tensors, meta, opts...)
	}
	dir, prefix := path, "model"
	if base, ok := strings.CutSuffix(filepath.Base(path), ".safetensors"); ok && base != "" {
		dir, prefix = filepath.Dir(path), base
	}
	_, err := writeSharded(ctx, dir, prefix, tensors, meta, w.MaxShardSize, opts)
	return err
}

var _ formats.Writer = Writer{}

// WriteSharded writes tensors into dir as a sharded checkpoint, splitting
// them as huggingface_hub's split_torch_state_dict_into_shards does: in the
// order given, a tensor that would push the current shard past maxShardSize
// bytes starts a new shard, and a tensor larger than maxShardSize gets a
// shard of its own (placed at the point where it was met, while the shard
// being filled carries on). Shards are named model-00001-of-0000N.safetensors
// and listed in model.safetensors.index.json ({"metadata": {"total_size":
// bytes of tensor data}, "weight_map": {tensor: shard}}, written as
// transformers writes it: json.dumps(index, indent=2, sort_keys=True) plus a
// newline). When everything fits one shard, or maxShardSize <= 0, the result
// is a single model.safetensors and no index. Every shard carries meta as its
// __metadata__ (transformers keeps {"format": "pt"} there); the index
// metadata holds total_size only.
//
// All files are written to temporary files first and renamed into place
// only once every shard is complete, the index last; on error or
// cancellation nothing in dir has changed. After the index is in place,
// files of an earlier save that match the naming pattern but are not part of
// this one (model.safetensors, old shards, an old index) are removed, as
// huggingface_hub does, so that loaders do not pick up stale weights.
// WriteSharded returns the paths written, index last.
func WriteSharded(ctx context.Context, dir string, tensors []formats.Tensor, meta map[string]string,
	maxShardSize int64, opts ...WriteOption) ([]string, error) {
	return writeSharded(ctx, dir, "model", tensors, meta, maxShardSize, opts)
}

// splitShards groups tensor indexes into shards as huggingface_hub does.
func splitShards(sizes []int64, maxShardSize int64) [][]int {
	var shards [][]int
	var cur []int
	var curSize int64
	for i, size := range sizes {
		if size > maxShardSize {
			shards = append(shards, []int{i})
			continue
		}
		if curSize+size > maxShardSize {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, i)
		curSize += size
	}
	if len(cur) > 0 {
		shards = append(shards, cur)
	}
	return shards
}

func writeSharded(ctx context.Context, dir, prefix string, tensors []formats.Tensor, meta map[string]string,
	maxShardSize int64, opts []WriteOption) ([]string, error) {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	// Validate the whole set once (names unique across shards, dtypes,
	// sizes) before writing anything.
	whole, err := layout(tensors, meta)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", dir, err)
	}
	sizes := make([]int64, len(tensors))
	for i, t := range tensors {
		sizes[i], _ = t.DType.ByteSize(t.Shape) // checked by layout
	}
	var groups [][]int
	if maxShardSize > 0 {
		groups = splitShards(sizes, maxShardSize)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	pr := newProgress(o.progress, whole.dataLen)
	if len(groups) <= 1 {
		path := filepath.Join(dir, prefix+".safetensors")
		if err := writePlan(ctx, path, whole, pr, func(f *atomicfile.File) error { return f.Commit() }); err != nil {
			return nil, err
		}
		return []string{path}, removeStale(dir, prefix, []string{path})
	}

	n := len(groups)
	var pending []*atomicfile.File
	defer func() {
		for _, f := range pending {
			f.Abort()
		}
	}()
	weightMap := make(map[string]string, len(tensors))
	var paths []string
	for gi, g := range groups {
		name := fmt.Sprintf("%s-%05d-of-%05d.safetensors", prefix, gi+1, n)
		path := filepath.Join(dir, name)
		shard := make([]formats.Tensor, len(g))
		for j, ti := range g {
			shard[j] = tensors[ti]
			weightMap[tensors[ti].Name] = name
		}
		p, err := layout(shard, meta)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", path, err)
		}
		if err := writePlan(ctx, path, p, pr, func(f *atomicfile.File) error {
			pending = append(pending, f)
			return nil
		}); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	indexPath := filepath.Join(dir, prefix+".safetensors.index.json")
	idx, err := atomicfile.Create(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	pending = append(pending, idx)
	if _, err := idx.Write(encodeIndex(whole.dataLen, weightMap)); err != nil {
		return nil, fmt.Errorf("safetensors: %s: write: %w", indexPath, err)
	}
	// Everything is written: put it in place, index last.
	for len(pending) > 0 {
		f := pending[0]
		pending = pending[1:]
		if err := f.Commit(); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
	}
	paths = append(paths, indexPath)
	return paths, removeStale(dir, prefix, paths)
}

// removeStale removes files of an earlier save with the same prefix that are
// not among keep.
func removeStale(dir, prefix string, keep []string) error {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$`)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("safetensors: checkpoint written, but listing %s for stale shards failed: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() || !re.MatchString(e.Name()) || slices.Contains(keep, path) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("safetensors: checkpoint written, but stale files of an earlier save remain: %w", errors.Join(errs...))
	}
	return nil
}

// encodeIndex writes the index as Python's json.dumps(index, indent=2,
// sort_keys=True) + "\n" does (transformers' save_pretrained).
func encodeIndex(totalSize int64, weightMap map[string]string) []byte {
	var b []byte
	b = append(b, "{\n  \"metadata\": {\n    \"total_size\": "...)
	b = strconv.AppendInt(b, totalSize, 10)
	b = append(b, "\n  },\n  \"weight_map\": {"...)
	names := slices.Sorted(mapKeys(weightMap))
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendPyString(b, name)
		b = append(b, ": "...)
		b = appendPyString(b, weightMap[name])
	}
	if len(names) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "}\n}\n"...)
	return b
}

// appendPyString appends s as Python's json module writes it with
// ensure_ascii: printable ASCII as is, '"' '\\' \n \r \t \b \f escaped by
// name, everything else as \uxxxx (UTF-16 surrogate pairs above U+FFFF).
func appendPyString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= 0x20 && r <= 0x7e:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u4(b, 0xd800+(r>>10))
			b = u4(b, 0xdc00+(r&0x3ff))
		default:
			b = u4(b, r)
		}
	}
	return append(b, '"')
}
