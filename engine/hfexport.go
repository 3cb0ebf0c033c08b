package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"mlmf/formats"
	"mlmf/formats/cast"
	"mlmf/formats/gguf"
	"mlmf/formats/safetensors"
	"mlmf/internal/atomicfile"
	"mlmf/mapping"
)

// HFExportRequest is `mlmf convert SRC DST --to hf`: a checkpoint (a Hugging
// Face directory or safetensors file, or a GGUF file) written as a complete
// Hugging Face model directory.
type HFExportRequest struct {
	Source string
	// Output is the directory to write. It must not exist, be empty, or
	// hold a model (config.json), which is then replaced as a whole.
	Output string
	// DType is the dtype of the floating-point tensors: F32, F16 or BF16.
	// Invalid keeps a safetensors source's dtypes; for a GGUF source it is
	// the weights' type when they are all F16 or all BF16, else F32 (the
	// exact dequantization).
	DType formats.DType
	// ShardSize is the largest shard in bytes; 0 is DefaultShardSize.
	ShardSize int64
	// Saturate clamps F8 overflow when casting (safetensors sources).
	Saturate bool
	// NoVocab writes no tokenizer files for a GGUF source (for a
	// vocabulary the tokenizer export cannot rebuild).
	NoVocab bool
}

// ErrHFExportUnsupported is returned for sources, architectures or options
// the Hugging Face export does not handle; errors.Is also matches it with
// ErrExportUnsupported.
var ErrHFExportUnsupported error = hfUnsupported{}

type hfUnsupported struct{}

func (hfUnsupported) Error() string        { return "not supported by the Hugging Face export" }
func (hfUnsupported) Is(target error) bool { return target == ErrExportUnsupported }

// DefaultShardSize is transformers' save_pretrained default (max_shard_size
// "5GB", decimal).
const DefaultShardSize = 5_000_000_000

// HFExportResult describes a finished export.
type HFExportResult struct {
	Arch    string
	From    string // "safetensors" or "gguf"
	DType   string // torch dtype written ("float32", …; "mixed")
	Files   []string
	Tensors int
	Bytes   int64
	Elapsed time.Duration
}

// hfArchs are the architectures a GGUF can be exported to Hugging Face
// for: those whose config.json mlmf can rebuild from GGUF metadata and whose
// export transforms it can undo, each checked against transformers by
// tests/interop/test_hf_export.py (tiny models through llama.cpp's
// convert_hf_to_gguf.py and back).
var hfArchs = map[string]bool{"llama": true, "mistral": true, "mixtral": true, "qwen2": true, "qwen3": true,
	"qwen2_moe": true, "qwen3_moe": true, "gemma": true, "gpt2": true, "phi3": true, "starcoder2": true,
	"olmo": true, "olmo2": true, "stablelm": true, "gemma2": true, "gemma3": true}

func hfArchList() string {
	var out []string
	for a := range hfArchs {
		out = append(out, a)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// torchDTypes are config.json's names of the dtypes an HF export writes.
var torchDTypes = map[formats.DType]string{formats.F32: "float32", formats.F16: "float16", formats.BF16: "bfloat16"}

// hfPlan is everything an export writes, decided before any output exists.
type hfPlan struct {
	arch, class string
	tensors     []formats.Tensor
	sizes       []int64
	files       map[string][]byte // small files: config.json, tokenizer files, …
	copies      map[string]string // files copied from the source: name → path
	meta        map[string]string
	prov        *Provenance
	card        CardInfo
	dtype       string
}

// ExportHF writes a Hugging Face model directory: sharded safetensors (with
// "format": "pt" and mlmf's provenance keys in their metadata, and an index
// when there is more than one shard), config.json, generation_config.json,
// the tokenizer files, README.md (a model card with Hub front matter) and
// provenance.json. From a GGUF it dequantizes the tensors, renames them by
// the mapping's reverse direction, undoes the export transforms (LLaMA's
// Q/K permutation, …) and rebuilds config.json and the tokenizer from the
// metadata.
//
// Everything is checked before output is created. The directory is built
// as a temporary sibling of Output and renamed into place at the end: on
// error or cancel, Output is as it was and no temporary files remain.
// Tensors stream one at a time, memory bounded by the largest tensor.
func ExportHF(ctx context.Context, req HFExportRequest, progress func(Progress)) (*HFExportResult, error) {
	start := time.Now()
	if _, ok := torchDTypes[req.DType]; !ok && req.DType != formats.Invalid {
		return nil, fmt.Errorf("export: --dtype %v: %w (choose F32, F16 or BF16)", req.DType, ErrHFExportUnsupported)
	}
	if req.ShardSize <= 0 {
		req.ShardSize = DefaultShardSize
	}
	if strings.HasPrefix(req.Source, formats.HFScheme) {
		p, err := formats.ResolveHF(req.Source)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		req.Source = p
	}
	if err := checkOutputDir(req.Source, req.Output); err != nil {
		return nil, err
	}
	r, err := formats.Open(req.Source)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var plan *hfPlan
	if g, ok := r.(*gguf.File); ok {
		plan, err = planFromGGUF(g, req)
	} else {
		plan, err = planFromCheckpoint(r, req)
	}
	if err != nil {
		return nil, err
	}
	card, err := ModelCard(plan.prov, plan.card)
	if err != nil {
		return nil, err
	}
	plan.files["README.md"] = card
	pj, err := plan.prov.JSON()
	if err != nil {
		return nil, err
	}
	plan.files["provenance.json"] = pj

	txn, err := beginDir(req.Output)
	if err != nil {
		return nil, err
	}
	defer txn.abort()
	for name, b := range plan.files {
		if err := writeSynced(filepath.Join(txn.tmp, name), b); err != nil {
			return nil, err
		}
	}
	for name, src := range plan.copies {
		if err := copyFile(filepath.Join(txn.tmp, name), src); err != nil {
			return nil, err
		}
	}
	trackProgress(ctx, plan.tensors, plan.sizes, start, progress)
	shards, err := safetensors.WriteSharded(ctx, txn.tmp, plan.tensors, plan.meta, req.ShardSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("export: %s: %w", req.Source, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := txn.commit(); err != nil {
		return nil, err
	}
	res := &HFExportResult{Arch: plan.arch, From: plan.card.From, DType: plan.dtype, Tensors: len(plan.tensors), Elapsed: time.Since(start)}
	for _, s := range plan.sizes {
		res.Bytes += s
	}
	var names []string
	for n := range plan.files {
		names = append(names, n)
	}
	for n := range plan.copies {
		names = append(names, n)
	}
	for _, s := range shards {
		names = append(names, filepath.Base(s))
	}
	sort.Strings(names)
	for _, n := range names {
		res.Files = append(res.Files, filepath.Join(req.Output, n))
	}
	return res, nil
}

// maxConfigBytes caps the config.json read (as mapping.LoadConfig does).
const maxConfigBytes = 16 << 20

// hfCopied are the files of a Hugging Face directory an export copies as
// they are (config.json is rewritten, README.md replaced by a new card).
var hfCopied = []string{"generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
	"special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
	"chat_template.json", "LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE", "USE_POLICY.md"}

// planFromCheckpoint plans the export of a safetensors (or other
// non-GGUF) checkpoint with its config.json: tensors as they are or cast,
// the directory's other files copied.
func planFromCheckpoint(r formats.Reader, req HFExportRequest) (*hfPlan, error) {
	dir := req.Source
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	if st, err := os.Stat(cfgPath); err == nil && st.Size() > maxConfigBytes {
		return nil, fmt.Errorf("export: %s: %d bytes is too large for a config.json (limit %d)", cfgPath, st.Size(), maxConfigBytes)
	}
	rawCfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("export: %s: no readable config.json beside the weights (%v); transformers needs one", req.Source, err)
	}
	cfg, err := mapping.ParseConfig(rawCfg, cfgPath)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	infos := r.Tensors()
	det := mapping.Detect(mapping.DetectInput{Config: cfg, Tensors: infos})
	p := &hfPlan{arch: det.Arch, files: map[string][]byte{}, copies: map[string]string{}}
	if len(cfg.Architectures) > 0 {
		p.class = cfg.Architectures[0]
	}
	dtypes, srcDTypes := map[formats.DType]bool{}, map[formats.DType]bool{}
	opt := cast.Options{Saturate: req.Saturate}
	for _, t := range infos {
		to := t.DType
		if req.DType != formats.Invalid && t.DType.IsFloat() && t.DType != req.DType {
			if !cast.Supported(t.DType, req.DType) {
				return nil, fmt.Errorf("export: %s: tensor %q: %v → %v is not supported", req.Source, t.Name, t.DType, req.DType)
			}
			to = req.DType
		}
		if to.IsFloat() {
			dtypes[to], srcDTypes[t.DType] = true, true
		}
		size, err := to.ByteSize(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("export: %s: tensor %q: %w", req.Source, t.Name, err)
		}
		src, err := r.TensorReader(t.Name)
		if err != nil {
			return nil, err
		}
		var view []byte
		if v, ok := r.(viewer); ok {
			if b, err := v.View(t.Name); err == nil && int64(len(b)) == src.Size() {
				view = b
			}
		}
		var data io.WriterTo = formats.SectionData{R: src}
		switch {
		case view != nil:
			data = &viewData{view: view, from: t.DType, to: to, opt: opt, name: t.Name}
		case to != t.DType:
			data = &castData{src: src, from: t.DType, to: to, n: t.NumElements(), opt: opt, name: t.Name}
		}
		p.tensors = append(p.tensors, formats.Tensor{Name: t.Name, DType: to, Shape: t.Shape, Data: data})
		p.sizes = append(p.sizes, size)
	}
	p.dtype = "mixed"
	srcTypes := sortedDTypes(srcDTypes)
	if len(dtypes) == 1 {
		for d := range dtypes {
			if n, ok := torchDTypes[d]; ok {
				p.dtype = n
			}
		}
	}
	if p.files["config.json"], err = setConfigDType(rawCfg, p.dtype); err != nil {
		return nil, fmt.Errorf("export: %s: %w", cfgPath, err)
	}
	for _, name := range hfCopied {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			p.copies[name] = path
		}
	}

	files := CheckpointFiles(r, req.Source)
	opts := map[string]string{"to": "hf"}
	if req.DType != formats.Invalid {
		opts["dtype"] = req.DType.String()
	}
	if p.prov, err = ReadProvenance(dir, files, opts); err != nil {
		return nil, err
	}
	p.meta = map[string]string{"format": "pt"}
	for k, v := range p.prov.SafetensorsMetadata() {
		p.meta[k] = v
	}
	p.card = CardInfo{From: r.Format(), SourceType: strings.Join(srcTypes, "+"), DType: p.dtype, Arch: p.arch, Class: p.class, Tensors: len(p.tensors)}
	for _, s := range p.sizes {
		p.card.Bytes += s
	}
	return p, nil
}

// viewData writes a mapped tensor a chunk at a time, cast when from and to
// differ, dropping each chunk's pages once written so that resident memory
// stays bounded by the chunk, not the model.
type viewData struct {
	view     []byte
	from, to formats.DType
	opt      cast.Options
	name     string
}

func (v *viewData) WriteTo(w io.Writer) (int64, error) {
	inEl, outEl := int64(v.from.Bits()/8), int64(v.to.Bits()/8)
	if v.from == v.to || inEl == 0 || outEl == 0 {
		inEl, outEl = 1, 1 // a plain copy (sub-byte dtypes included)
	}
	n := int64(len(v.view)) / inEl
	chunk := min(n, chunkElems)
	var out []byte
	if v.from != v.to {
		out = make([]byte, chunk*outEl)
	}
	workers := runtime.GOMAXPROCS(0)
	var written int64
	for off := int64(0); off < n; off += chunk {
		k := min(chunk, n-off)
		in := v.view[off*inEl : (off+k)*inEl]
		o := in
		if out != nil {
			o = out[:k*outEl]
			if err := cast.ConvertParallel(o, v.to, in, v.from, v.opt, workers); err != nil {
				return written, fmt.Errorf("tensor %q: %w", v.name, err)
			}
		}
		m, err := w.Write(o)
		written += int64(m)
		if err != nil {
			return written, err
		}
		dropPages(in)
	}
	return written, nil
}

// CheckpointFiles lists the files an opened checkpoint reads (its shards,
// or the file itself), for provenance hashes.
func CheckpointFiles(r formats.Reader, src string) []string {
	if fr, ok := r.(formats.Files); ok {
		return fr.Files()
	}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		return []string{src}
	}
	files, _ := filepath.Glob(filepath.Join(src, "*.safetensors"))
	return files
}

// setConfigDType rewrites config.json with torch_dtype (and transformers 5's
// dtype, when the file has it) set to dtype, keys sorted and indented as
// transformers writes them; "mixed" leaves the file as it was.
func setConfigDType(raw []byte, dtype string) ([]byte, error) {
	if dtype == "mixed" {
		return raw, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	v, _ := json.Marshal(dtype)
	m["torch_dtype"] = v
	if _, ok := m["dtype"]; ok {
		m["dtype"] = v
	}
	return marshalSorted(m)
}

func marshalSorted(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// checkOutputDir refuses outputs that would overwrite the source or a
// directory that is not a model, before anything is read.
func checkOutputDir(src, dst string) error {
	if dst == "" {
		return fmt.Errorf("export: no output directory given")
	}
	as, err1 := filepath.Abs(src)
	ad, err2 := filepath.Abs(dst)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if as == ad || strings.HasPrefix(as, ad+string(filepath.Separator)) {
		return fmt.Errorf("export: output %s would replace the source %s; choose another directory", dst, src)
	}
	st, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export: output %s exists and is not a directory; --to hf writes a directory", dst)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dst, "config.json")); err != nil {
		return fmt.Errorf("export: output %s is neither empty nor a model directory (no config.json); choose a new or empty directory", dst)
	}
	return nil
}

// dirTxn builds a directory as a temporary sibling of dst and renames it
// into place on commit.
type dirTxn struct {
	dst, tmp string
	done     bool
}

func beginDir(dst string) (*dirTxn, error) {
	dst = filepath.Clean(dst)
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, atomicfile.TempPrefix+filepath.Base(dst)+"-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &dirTxn{dst: dst, tmp: tmp}, nil
}

// commit replaces dst with the built directory: an existing dst is moved
// aside first and removed once the new one is in place (put back if the
// rename fails).
func (t *dirTxn) commit() error {
	if err := os.Chmod(t.tmp, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.SyncDir(t.tmp); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	parent := filepath.Dir(t.dst)
	var old string
	if _, err := os.Lstat(t.dst); err == nil {
		old = t.tmp + "-old"
		if err := os.Rename(t.dst, old); err != nil {
			return fmt.Errorf("export: move the old %s aside: %w", t.dst, err)
		}
	}
	if err := os.Rename(t.tmp, t.dst); err != nil {
		if old != "" {
			_ = os.Rename(old, t.dst)
		}
		return fmt.Errorf("export: rename into %s: %w", t.dst, err)
	}
	t.done = true
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("export: remove the replaced %s (now %s): %w", t.dst, old, err)
		}
	}
	return atomicfile.SyncDir(parent)
}

func (t *dirTxn) abort() {
	if !t.done {
		t.done = true
		os.RemoveAll(t.tmp)
	}
}

// writeSynced writes a new file and fsyncs it, so that the directory
// renamed into place later holds its data even after a crash.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	return f.Close()
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("export: copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("export: %w", err)
	}
	return out.Close()
}

// sortedDTypes lists dtypes by name (for messages).
func sortedDTypes(m map[formats.DType]bool) []string {
	var out []string
	for d := range m {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return out
}
