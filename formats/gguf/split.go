package gguf

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"mlmf/formats"
	"mlmf/internal/atomicfile"
)

// SplitOptions choose how WriteSplit cuts a model into files, with
// gguf-split's semantics.
type SplitOptions struct {
	// MaxTensors is --split-max-tensors: a new split starts at every
	// multiple of MaxTensors tensors. Used when MaxBytes is 0; 0 means
	// gguf-split's default of 128.
	MaxTensors int
	// MaxBytes is --split-max-size in bytes: a new split starts when the
	// tensor data of the current one (each tensor padded to 32 bytes,
	// metadata not counted) would pass MaxBytes.
	MaxBytes int64
	// NoTensorFirstSplit is --no-tensor-first-split: the first split holds
	// the metadata only.
	NoTensorFirstSplit bool
	// Assign, when set, gives the split of each tensor instead (a split
	// index per tensor, non-decreasing from 0; only the first split may be
	// empty): llama-quantize --keep-split keeps the input's cut.
	Assign []int
	// QuantizeKeyOrder writes split.no, split.count, split.tensors.count, the
	// order llama_model_quantize appends them in (gguf-split's is split.no,
	// split.tensors.count, split.count); gguf-py's GGUFWriter uses it too.
	QuantizeKeyOrder bool
	// GGUFPy cuts as gguf-py's GGUFWriter does for convert_hf_to_gguf.py's
	// --split-max-tensors and --split-max-size: both limits apply when set
	// (MaxTensors 0 is no limit), sizes are the tensors' unpadded bytes, a
	// tensor larger than MaxBytes goes alone in a split instead of failing,
	// and a model that fits one split is written as PREFIX.gguf without
	// split.* keys.
	GGUFPy bool
}

// SplitPlan assigns tensors to splits as gguf-split does: it returns, for
// each split, the indices of its tensors.
func SplitPlan(tensors []formats.Tensor, opt SplitOptions) ([][]int, error) {
	if opt.MaxBytes < 0 || opt.MaxTensors < 0 {
		return nil, fmt.Errorf("gguf: split limits must be positive: %w", ErrCorrupt)
	}
	if opt.Assign != nil {
		return assignedSplits(tensors, opt.Assign)
	}
	if opt.GGUFPy {
		return ggufPySplits(tensors, opt)
	}
	maxT := opt.MaxTensors
	if maxT == 0 {
		maxT = 128
	}
	var splits [][]int
	if opt.NoTensorFirstSplit {
		splits = append(splits, []int{}) // the metadata-only first split
	}
	cur := []int{}
	var curSize int64
	for i, t := range tensors {
		n, err := t.DType.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		n, err = alignUp(n, DefaultAlignment)
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		next := curSize + n
		var split bool
		if opt.MaxBytes > 0 {
			split = next > opt.MaxBytes
		} else {
			split = i > 0 && i%maxT == 0
		}
		if split {
			if len(cur) == 0 {
				// gguf-split: "one of splits have 0 tensors".
				return nil, fmt.Errorf("gguf: tensor %q (%d bytes) does not fit a split of %d bytes, so a split would hold no tensors: raise the size limit: %w",
					t.Name, n, opt.MaxBytes, ErrCorrupt)
			}
			splits = append(splits, cur)
			cur = []int{}
			curSize = n
		} else {
			curSize = next
		}
		cur = append(cur, i)
	}
	splits = append(splits, cur)
	if len(splits) > 99999 {
		return nil, fmt.Errorf("gguf: %d splits, gguf-split names allow at most 99999: %w", len(splits), ErrUnsupported)
	}
	return splits, nil
}

// ggufPySplits is GGUFWriter.add_tensor_info's cut: a tensor starts a new
// split when the current one is not empty and holds MaxTensors tensors, or
// its bytes plus the tensor's would pass MaxBytes.
func ggufPySplits(tensors []formats.Tensor, opt SplitOptions) ([][]int, error) {
	splits := [][]int{{}}
	if opt.NoTensorFirstSplit {
		splits = append(splits, []int{})
	}
	var curSize int64
	for i, t := range tensors {
		n, err := t.DType.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		cur := splits[len(splits)-1]
		if len(cur) > 0 && (opt.MaxTensors > 0 && len(cur) >= opt.MaxTensors || opt.MaxBytes > 0 && curSize+n > opt.MaxBytes) {
			splits = append(splits, []int{})
			curSize = 0
		}
		splits[len(splits)-1] = append(splits[len(splits)-1], i)
		curSize += n
	}
	if len(splits) > 99999 {
		return nil, fmt.Errorf("gguf: %d splits, split names allow at most 99999: %w", len(splits), ErrUnsupported)
	}
	return splits, nil
}

// assignedSplits checks and groups an explicit split assignment.
func assignedSplits(tensors []formats.Tensor, assign []int) ([][]int, error) {
	if len(assign) != len(tensors) {
		return nil, fmt.Errorf("gguf: %d split indices for %d tensors: %w", len(assign), len(tensors), ErrCorrupt)
	}
	var splits [][]int
	for i, s := range assign {
		if s < 0 || s > 99998 || len(splits) > 0 && s < len(splits)-1 {
			return nil, fmt.Errorf("gguf: tensor %q: split %d out of order: %w", tensors[i].Name, s, ErrCorrupt)
		}
		for len(splits) <= s {
			if len(splits) > 1 && len(splits[len(splits)-1]) == 0 {
				return nil, fmt.Errorf("gguf: split %d would hold no tensors: %w", len(splits), ErrCorrupt)
			}
			splits = append(splits, []int{})
		}
		splits[s] = append(splits[s], i)
	}
	if len(splits) == 0 {
		splits = [][]int{{}}
	}
	return splits, nil
}

// WriteSplit writes a model as gguf-split does: files PREFIX-00001-of-0000N.gguf
// …, the first holding all of kvs, every one holding split.no (uint16),
// split.tensors.count (int32) and split.count (uint16) in that order — the
// order gguf-split's final update of split.count leaves them in. Existing
// split.* keys in kvs are replaced. All files are written to temporary
// files first and renamed only when every one is complete, so an error or a
// cancelled ctx leaves no new split behind. It returns the paths written.
func WriteSplit(ctx context.Context, prefix string, kvs []KV, tensors []formats.Tensor, opt SplitOptions) ([]string, error) {
	return WriteSplitDeferred(ctx, prefix, kvs, tensors, opt, nil)
}

// WriteSplitDeferred is WriteSplit with metadata completed after the
// tensor data, as WriteDeferred does for one file: once every split is
// written, final (when not nil) returns the KVs to store instead of kvs,
// and the first split's header, the one holding them, is rewritten before
// any file is committed. The final KVs must take as many header bytes as
// kvs.
func WriteSplitDeferred(ctx context.Context, prefix string, kvs []KV, tensors []formats.Tensor, opt SplitOptions, final func() ([]KV, error)) ([]string, error) {
	prefix = strings.TrimSuffix(prefix, ".gguf")
	assign, err := SplitPlan(tensors, opt)
	if err != nil {
		return nil, err
	}
	if opt.GGUFPy && len(assign) == 1 {
		// gguf-py: "Model fails split requirements, not splitting"
		path := prefix + ".gguf"
		if err := WriteDeferred(ctx, path, kvs, tensors, final); err != nil {
			return nil, err
		}
		return []string{path}, nil
	}
	n := len(assign)
	base := withoutSplitKeys(kvs)
	splitKVs := func(base []KV, i int) []KV {
		fkvs := slices.Clone(base)
		if opt.QuantizeKeyOrder {
			return append(fkvs,
				Uint16(KeySplitNo, uint16(i)),
				Uint16(KeySplitCount, uint16(n)),
				Int32(KeySplitTensorsCount, int32(len(tensors))))
		}
		return append(fkvs,
			Uint16(KeySplitNo, uint16(i)),
			Int32(KeySplitTensorsCount, int32(len(tensors))),
			Uint16(KeySplitCount, uint16(n)))
	}
	type out struct {
		af      *atomicfile.File
		path    string
		tensors []formats.Tensor
		header  int
	}
	outs := make([]out, n)
	defer func() {
		for _, o := range outs {
			if o.af != nil {
				o.af.Abort()
			}
		}
	}()
	for i, idx := range assign {
		var fkvs []KV
		if i == 0 {
			fkvs = splitKVs(base, i) // only the first split carries the metadata
		} else {
			fkvs = splitKVs(nil, i)
		}
		ts := make([]formats.Tensor, len(idx))
		for j, k := range idx {
			ts[j] = tensors[k]
		}
		l, err := plan(fkvs, ts)
		if err != nil {
			return nil, fmt.Errorf("gguf: split %d of %d: %w", i+1, n, err)
		}
		path := SplitPath(prefix, i, n)
		af, err := atomicfile.Create(path)
		if err != nil {
			return nil, fmt.Errorf("gguf: %w", err)
		}
		outs[i] = out{af: af, path: path, tensors: ts, header: len(l.header)}
		bw := bufio.NewWriterSize(af, 1<<20)
		if err := l.stream(ctx, bw, ts); err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", path, err)
		}
		if err := bw.Flush(); err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", path, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", prefix, err)
	}
	if final != nil {
		kvs, err := final()
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", outs[0].path, err)
		}
		l, err := plan(splitKVs(withoutSplitKeys(kvs), 0), outs[0].tensors)
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", outs[0].path, err)
		}
		if len(l.header) != outs[0].header {
			return nil, fmt.Errorf("gguf: %s: final metadata takes %d header bytes, the placeholders %d: %w", outs[0].path, len(l.header), outs[0].header, ErrCorrupt)
		}
		if _, err := outs[0].af.WriteAt(l.header, 0); err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", outs[0].path, err)
		}
	}
	paths := make([]string, n)
	for i := range outs {
		if err := outs[i].af.Commit(); err != nil {
			return nil, fmt.Errorf("gguf: %w", err)
		}
		outs[i].af = nil
		paths[i] = outs[i].path
	}
	return paths, nil
}

// withoutSplitKeys is kvs less any split.* key.
func withoutSplitKeys(kvs []KV) []KV {
	out := make([]KV, 0, len(kvs))
	for _, kv := range kvs {
		switch kv.Key {
		case KeySplitNo, KeySplitCount, KeySplitTensorsCount:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// ParseSplitSize parses gguf-split's --split-max-size argument: a positive
// integer followed by M (10^6 bytes) or G (10^9 bytes), as
// split_str_to_n_bytes reads it. Unlike gguf-split, which reads "1.5G"
// as 1G (sscanf %d), anything but an integer before the unit is refused.
func ParseSplitSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("gguf: empty split size: want N followed by M or G: %w", ErrCorrupt)
	}
	var mul int64
	switch s[len(s)-1] {
	case 'M':
		mul = 1000 * 1000
	case 'G':
		mul = 1000 * 1000 * 1000
	default:
		return 0, fmt.Errorf("gguf: split size %q: supported units are M (megabytes) or G (gigabytes): %w", s, ErrCorrupt)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("gguf: split size %q: the size must be a positive integer: %w", s, ErrCorrupt)
	}
	return n * mul, nil
}
