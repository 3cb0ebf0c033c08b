package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"mlmf/formats"
)

// IndexSuffix ends the name of a sharded checkpoint's index file.
const IndexSuffix = ".safetensors.index.json"

// DefaultIndex is the index file name transformers and huggingface_hub write.
const DefaultIndex = "model" + IndexSuffix

// Sharded is a checkpoint split over several safetensors files listed by an
// index (model.safetensors.index.json). Its methods are safe for concurrent
// use; views and section readers are valid until Close.
type Sharded struct {
	indexPath string
	shards    []*File // sorted by file name
	files     []string
	tensors   []formats.TensorInfo // shard by shard, each in offset order
	owner     []int32              // shard of each tensor
	index     map[string]int
	indexMeta map[string]any
}

// OpenSharded opens a sharded checkpoint from its index file or from the
// directory holding it (model.safetensors.index.json, or the only
// *.safetensors.index.json there). It opens every shard and checks that the
// index and the shards agree exactly: every shard named exists, holds the
// tensors the weight_map puts in it and no others, no tensor is in two
// shards, shard paths stay inside the directory and end in .safetensors, and
// metadata.total_size, when present, is the sum of the tensors' byte sizes
// (what huggingface_hub and transformers write).
func OpenSharded(path string) (*Sharded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", notFound(err))
	}
	indexPath := path
	if st.IsDir() {
		if indexPath, err = findIndex(path); err != nil {
			return nil, err
		}
		if indexPath == "" {
			return nil, fmt.Errorf("safetensors: %s: no %s (or other *%s) in the directory: %w",
				path, DefaultIndex, IndexSuffix, formats.ErrNotFound)
		}
	}
	idx, err := readIndex(indexPath)
	if err != nil {
		return nil, err
	}
	s := &Sharded{indexPath: indexPath, indexMeta: idx.meta}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.openShards(idx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// findIndex returns the index file of dir, "" when there is none.
func findIndex(dir string) (string, error) {
	def := filepath.Join(dir, DefaultIndex)
	if st, err := os.Stat(def); err == nil && !st.IsDir() {
		return def, nil
	}
	matches, err := filepath.Glob(filepath.Join(escapeGlob(dir), "*"+IndexSuffix))
	if err != nil {
		return "", fmt.Errorf("safetensors: %s: %w", dir, err)
	}
	switch len(matches) {
	case 0:
		return "", nil
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("safetensors: %s: %d index files (%s) and none named %s; open one of them: %w",
		dir, len(matches), strings.Join(baseNames(matches), ", "), DefaultIndex, formats.ErrUnsupported)
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// shardIndex is a parsed index file.
type shardIndex struct {
	path      string
	meta      map[string]any // nil when the index has no metadata
	totalSize int64          // -1 when metadata.total_size is absent
	weightMap map[string]string
}

// readIndex reads and parses an index file, refusing duplicate keys, which
// encoding/json would let through.
func readIndex(path string) (*shardIndex, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", notFound(err))
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.Size() > MaxHeaderSize {
		return nil, corruptf(path, "index is %d bytes, more than the %d-byte limit for an index", st.Size(), MaxHeaderSize)
	}
	buf := make([]byte, st.Size())
	if _, err := io.ReadFull(fh, buf); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read index: %w", path, err)
	}
	return parseIndex(path, string(buf))
}

func parseIndex(path, text string) (*shardIndex, error) {
	if bad := validUTF8(text); bad >= 0 {
		return nil, corruptf(path, "index is not valid UTF-8 (byte %d)", bad)
	}
	idx := &shardIndex{path: path, totalSize: -1}
	p := &scanner{s: text}
	syntax := func(err error) error {
		return corruptf(path, "invalid index JSON at %v", err)
	}
	if err := p.expect('{', "'{' (a JSON object)"); err != nil {
		return nil, syntax(err)
	}
	seenMeta, seenMap := false, false
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			key, err := p.str()
			if err != nil {
				return nil, syntax(err)
			}
			if err := p.expect(':', "':'"); err != nil {
				return nil, syntax(err)
			}
			switch key {
			case "metadata":
				if seenMeta {
					return nil, corruptf(path, "metadata appears twice in the index")
				}
				seenMeta = true
				p.ws()
				start := p.i
				if err := p.skip(0); err != nil {
					return nil, syntax(err)
				}
				if err := idx.setMeta(text[start:p.i]); err != nil {
					return nil, err
				}
			case "weight_map":
				if seenMap {
					return nil, corruptf(path, "weight_map appears twice in the index")
				}
				seenMap = true
				if idx.weightMap, err = parseWeightMap(path, p); err != nil {
					return nil, err
				}
			default:
				if err := p.skip(0); err != nil {
					return nil, syntax(err)
				}
			}
			more, err := p.next('}')
			if err != nil {
				return nil, syntax(err)
			}
			if !more {
				break
			}
		}
	}
	if !p.atEnd() {
		return nil, syntax(p.errorf("unexpected %s after the index object", p.describe()))
	}
	if !seenMap {
		return nil, corruptf(path, "index has no weight_map (is it a safetensors index?)")
	}
	return idx, nil
}

func parseWeightMap(path string, p *scanner) (map[string]string, error) {
	if p.peek() != '{' {
		return nil, corruptf(path, "weight_map must be an object of tensor name to shard file, found %s", p.describe())
	}
	p.i++
	wm := map[string]string{}
	if p.peek() == '}' {
		p.i++
		return wm, nil
	}
	for {
		name, err := p.str()
		if err != nil {
			return nil, corruptf(path, "weight_map: %v", err)
		}
		if err := p.expect(':', "':'"); err != nil {
			return nil, corruptf(path, "weight_map: %v", err)
		}
		if p.peek() != '"' {
			return nil, corruptf(path, "weight_map: tensor %q: shard must be a file name string, found %s", name, p.describe())
		}
		shard, err := p.str()
		if err != nil {
			return nil, corruptf(path, "weight_map: tensor %q: %v", name, err)
		}
		if prev, dup := wm[name]; dup {
			return nil, corruptf(path, "weight_map: tensor %q: listed twice (in %s and %s)", name, prev, shard)
		}
		wm[name] = shard
		more, err := p.next('}')
		if err != nil {
			return nil, corruptf(path, "weight_map: %v", err)
		}
		if !more {
			return wm, nil
		}
	}
}

// setMeta decodes the index metadata: an object (or null) of any values.
// Numbers become int64 when they are integers that fit, float64 otherwise.
func (idx *shardIndex) setMeta(raw string) error {
	if raw == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return corruptf(idx.path, "metadata must be a JSON object")
	}
	for k, v := range m {
		m[k] = convertNumbers(v)
	}
	idx.meta = m
	ts, ok := m["total_size"]
	if !ok {
		return nil
	}
	switch v := ts.(type) {
	case int64:
		if v >= 0 {
			idx.totalSize = v
			return nil
		}
	case float64:
		// Some writers store total_size as a float ("total_size": 1.6e10).
		if v >= 0 && v == math.Trunc(v) && v < 1<<62 {
			idx.totalSize = int64(v)
			return nil
		}
	}
	return corruptf(idx.path, "metadata.total_size %v is not a byte count", ts)
}

func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = convertNumbers(e)
		}
	}
	return v
}

// checkShardName refuses shard names that could leave the directory on any
// OS (absolute, drive letters, UNC, ".." through either separator) or that
// are not .safetensors files, as huggingface_hub's loader does.
func checkShardName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case strings.ContainsRune(name, 0):
		return "contains a NUL byte"
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return "is an absolute path"
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z'):
		return "starts with a drive letter"
	case !strings.HasSuffix(name, ".safetensors"):
		return "does not end in .safetensors"
	}
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "leaves the checkpoint directory (..)"
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return "leaves the checkpoint directory"
	}
	return ""
}

func (s *Sharded) openShards(idx *shardIndex) error {
	dir := filepath.Dir(idx.path)
	// Shard names, with the tensors the index puts in each.
	// Shard names are compared after path.Clean, so that "./a.safetensors"
	// and "a.safetensors" are one shard.
	byShard := map[string][]string{}
	for _, name := range slices.Sorted(mapKeys(idx.weightMap)) {
		shard := idx.weightMap[name]
		if why := checkShardName(shard); why != "" {
			return corruptf(idx.path, "weight_map: tensor %q: shard file %q %s", name, shard, why)
		}
		shard = path.Clean(shard)
		idx.weightMap[name] = shard
		byShard[shard] = append(byShard[shard], name)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range byShard {
			if !yield(k) {
				return
			}
		}
	})
	example := func(shard string) string {
		ts := byShard[shard]
		slices.Sort(ts)
		if len(ts) == 1 {
			return fmt.Sprintf("tensor %q", ts[0])
		}
		return fmt.Sprintf("tensor %q and %d more", ts[0], len(ts)-1)
	}
	total := 0
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		f, err := Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("safetensors: %s: shard %s, named in weight_map for %s, is missing: %w",
					idx.path, path, example(name), formats.ErrNotFound)
			}
			return err
		}
		s.shards = append(s.shards, f)
		s.files = append(s.files, path)
		total += len(f.Tensors())
	}

	s.tensors = make([]formats.TensorInfo, 0, total)
	s.owner = make([]int32, 0, total)
	s.index = make(map[string]int, total)
	for si, f := range s.shards {
		for _, t := range f.Tensors() {
			if j, dup := s.index[t.Name]; dup {
				return corruptf(idx.path, "tensor %q: in two shards, %s and %s", t.Name, s.tensors[j].File, t.File)
			}
			s.index[t.Name] = len(s.tensors)
			s.tensors = append(s.tensors, t)
			s.owner = append(s.owner, int32(si))
		}
	}
	var sum int64
	for i, t := range s.tensors {
		want, listed := idx.weightMap[t.Name]
		have := names[s.owner[i]]
		switch {
		case !listed:
			return corruptf(idx.path, "tensor %q: in shard %s but not in the index weight_map", t.Name, t.File)
		case want != have:
			return corruptf(idx.path, "tensor %q: in shard %s, but weight_map puts it in %s", t.Name, t.File, want)
		}
		sum += t.Size
	}
	if len(s.tensors) != len(idx.weightMap) {
		for _, shard := range names {
			for _, name := range slices.Sorted(slices.Values(byShard[shard])) {
				if _, ok := s.index[name]; !ok {
					return corruptf(idx.path, "tensor %q: weight_map puts it in shard %s, which does not hold it",
						name, filepath.Join(dir, filepath.FromSlash(shard)))
				}
			}
		}
	}
	if idx.totalSize >= 0 && idx.totalSize != sum {
		return corruptf(idx.path, "metadata.total_size is %d, but the shards' tensors hold %d bytes", idx.totalSize, sum)
	}
	return nil
}

// Format returns "safetensors".
func (s *Sharded) Format() string { return "safetensors" }

// IndexPath returns the path of the index file.
func (s *Sharded) IndexPath() string { return s.indexPath }

// Files returns the shard paths, sorted by name.
func (s *Sharded) Files() []string { return s.files }

// Shards returns the opened shards, in the order of Files.
func (s *Sharded) Shards() []*File { return s.shards }

// Tensors lists the tensors shard by shard (in the order of Files), each
// shard's in data-offset order. The slice must not be modified.
func (s *Sharded) Tensors() []formats.TensorInfo { return s.tensors }

// Metadata returns the first shard's __metadata__ (string values) overlaid
// with the index's "metadata" object (index entries win: total_size and
// whatever else the index records, numbers as int64 or float64). Writers put
// the same __metadata__ in every shard (transformers: {"format": "pt"}), so
// the first shard speaks for all. Nil when there is neither.
func (s *Sharded) Metadata() map[string]any {
	var out map[string]any
	if len(s.shards) > 0 {
		out = s.shards[0].Metadata()
	}
	if s.indexMeta != nil && out == nil {
		out = make(map[string]any, len(s.indexMeta))
	}
	for k, v := range s.indexMeta {
		out[k] = v
	}
	return out
}

func (s *Sharded) lookup(name string) (*File, error) {
	i, ok := s.index[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: no such tensor: %w", s.indexPath, name, formats.ErrNotFound)
	}
	return s.shards[s.owner[i]], nil
}

// View returns the bytes of the named tensor without copying them; see
// File.View.
func (s *Sharded) View(name string) ([]byte, error) {
	f, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.View(name)
}

// TensorReader returns a reader over the bytes of the named tensor.
func (s *Sharded) TensorReader(name string) (*io.SectionReader, error) {
	f, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.TensorReader(name)
}

// Close closes every shard.
func (s *Sharded) Close() error {
	var errs []error
	for _, f := range s.shards {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var (
	_ formats.Reader = (*Sharded)(nil)
	_ formats.Viewer = (*Sharded)(nil)
	_ formats.Files  = (*Sharded)(nil)
)
