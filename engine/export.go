package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unsafe"

	"mlmf/engine/quant"
	"mlmf/formats"
	"mlmf/formats/gguf"
	"mlmf/mapping"
	"mlmf/tokenizer"
)

// ErrExportUnsupported is returned for checkpoints, architectures or
// options the GGUF export does not handle yet.
var ErrExportUnsupported = errors.New("not supported by the GGUF export")

// ExportRequest is `mlmf convert SRC OUT.gguf --to gguf --type T`: a Hugging
// Face model directory (config.json, safetensors, tokenizer files) written
// as one GGUF file the way llama.cpp's convert_hf_to_gguf.py writes it.
type ExportRequest struct {
	Source string
	Output string
	// Type is the type of 2-D weights: F32, F16, BF16 or Q8_0. Invalid is
	// the converter's "auto": BF16 when the first matrix of the source is
	// BF16, F16 otherwise. 1-D tensors and norms are always F32.
	Type formats.DType
	// Quant, when set, is a llama-quantize preset and its options
	// (--tensor-type, --output-tensor-type, --token-embedding-type): the
	// output is what llama-quantize makes of the F32 export (Type is then
	// ignored), computed in one pass without the F32 file.
	Quant *quant.Options
	// NoVocab writes no tokenizer.* keys (llama.cpp cannot run such a
	// file, but it can take a vocabulary from elsewhere); without it a
	// directory whose tokenizer cannot be read is refused.
	NoVocab bool
	// Rules are user mapping rules (a mapping file, `--rules`, or the TUI's
	// fixer): extra name rules and skips over the architecture's, and their
	// arch, when set, overrides detection.
	Rules *mapping.Rules
	// DropUnmapped writes the file without the tensors no rule maps
	// (listed in ExportResult.Dropped) instead of refusing it.
	DropUnmapped bool
	// Split, when set, cuts the output into OUT-0000i-of-0000N.gguf files
	// as convert_hf_to_gguf.py's --split-max-tensors, --split-max-size and
	// --no-tensor-first-split do (gguf-py's GGUFWriter: the metadata and
	// provenance in the first split only; one file, unsuffixed, when the
	// model fits one split). GGUFPy and QuantizeKeyOrder are set for it.
	Split *gguf.SplitOptions
}

// ExportResult describes a finished export.
type ExportResult struct {
	Arch    string
	Tensors int
	// Dropped are the unmapped source tensors left out (DropUnmapped).
	Dropped []string
	// Files are the files written: Output, or its splits.
	Files   []string
	Bytes   int64
	Elapsed time.Duration
}

// fileTypes is general.file_type for each --type (llama_ftype).
var fileTypes = map[formats.DType]uint32{formats.F32: 0, formats.F16: 1, formats.Q8_0: 7, formats.BF16: 32}

// ExportGGUF converts a Hugging Face checkpoint directory to GGUF as
// convert_hf_to_gguf.py does: tensors renamed and transformed as the
// mapping declares (Q/K permutation, Gemma's norm + 1, Conv1D transpose,
// expert stacking, fused tensors split), in the converter's types (2-D
// weights in the requested type, the rest F32), with its general.* keys,
// the architecture's hyper-parameters (archKVs) and the vocabulary. It
// streams tensor by tensor (memory bounded by the largest output tensor),
// checks ctx between tensors and writes atomically: on error or cancel
// Output is left as it was.
func ExportGGUF(ctx context.Context, req ExportRequest, progress func(Progress)) (*ExportResult, error) {
	start := time.Now()
	if _, ok := fileTypes[req.Type]; !ok && req.Type != formats.Invalid {
		return nil, fmt.Errorf("export: --type %v: %w (choose F32, F16, BF16 or Q8_0)", req.Type, ErrExportUnsupported)
	}
	dir := req.Source
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	} else if !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := mapping.LoadConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	r, err := formats.Open(req.Source)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	infos := r.Tensors()
	if req.Quant != nil {
		req.Type = formats.F32
	}
	if req.Type == formats.Invalid {
		req.Type = guessType(infos)
	}
	fileType := fileTypes[req.Type]
	din := mapping.DetectInput{Config: cfg, Tensors: infos}
	if req.Rules != nil {
		din.Override = req.Rules.Arch
	}
	det := mapping.Detect(din)
	if det.Arch == "" {
		return nil, fmt.Errorf("export: %s: architecture not detected: %s", req.Source, det.Reason)
	}
	arch, err := mapping.Lookup(det.Arch)
	if err != nil {
		return nil, err
	}
	if _, ok := archKVs[arch.GGUFArch]; !ok || !exportArchs[det.Arch] {
		return nil, fmt.Errorf("export: %s: architecture %s: %w (known: %s)", req.Source, det.Arch, ErrExportUnsupported, strings.Join(exportArchNames(), ", "))
	}
	hp, err := loadHParams(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	m, err := mapping.NewMapper(det.Arch, cfg, req.Rules)
	if err != nil {
		return nil, err
	}
	rep := m.Report(infos)
	var dropped []string
	if req.DropUnmapped {
		for _, u := range rep.Unmapped {
			dropped = append(dropped, u.Name)
		}
		rep.Unmapped = nil
	}
	if err := checkReport(req.Source, rep); err != nil {
		return nil, err
	}
	plan := rep.Plan()
	vars := mapping.ShapeVars(cfg)

	byName := make(map[string]formats.TensorInfo, len(infos))
	for _, t := range infos {
		byName[t.Name] = t
	}
	extras, extraKVs, err := extrasFor(hp, arch.GGUFArch)
	if err != nil {
		return nil, err
	}
	tensors := make([]formats.Tensor, 0, len(extras)+len(plan))
	sizes := make([]int64, 0, len(extras)+len(plan))
	var total int64
	var count paramCount
	for _, x := range extras {
		t := x.tensor()
		count.add(t.Name, t.Shape)
		total += 4 * int64(len(x.values))
		sizes = append(sizes, 4*int64(len(x.values)))
		tensors = append(tensors, t)
	}
	for _, pt := range plan {
		srcs := make([]exportSource, 0, len(pt.Sources))
		for _, name := range pt.Sources {
			src := byName[name]
			sr, err := r.TensorReader(src.Name)
			if err != nil {
				return nil, err
			}
			s := exportSource{info: src, src: sr}
			if v, ok := r.(viewer); ok {
				if b, err := v.View(src.Name); err == nil && int64(len(b)) == sr.Size() {
					s.view = b
				}
			}
			srcs = append(srcs, s)
		}
		e, err := newExportData(req.Source, pt, srcs, func(v string) int { return int(vars[v]) }, req.Type)
		if err != nil {
			return nil, err
		}
		size, err := e.to.ByteSize(e.shape)
		if err != nil {
			return nil, fmt.Errorf("export: %s: tensor %q as %v: %w", req.Source, pt.Name, e.to, err)
		}
		count.add(pt.Name, e.shape)
		total += size
		sizes = append(sizes, size)
		tensors = append(tensors, formats.Tensor{Name: pt.Name, DType: e.to, Shape: slices.Clone(e.shape), Data: e})
	}

	kvs, err := exportKVs(dir, hp, arch.GGUFArch, extraKVs, fileType, count, !req.NoVocab)
	if err != nil {
		return nil, err
	}
	// Provenance: mlmf's keys and the lineage gguf-py's Metadata reads from
	// the model card; the source files are hashed while the tensors stream.
	// They come before a preset's quantization keys, as in llama-quantize's
	// output of an F32 export.
	opts := map[string]string{"to": "gguf", "type": req.Type.String()}
	if req.Quant != nil {
		opts["type"] = req.Quant.FileType.String()
	}
	kvs, finalKVs, stopHash, err := deferredProvenance(ctx, kvs, dir, CheckpointFiles(r, req.Source), opts)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", req.Source, err)
	}
	defer stopHash()
	if req.Quant != nil {
		if tensors, sizes, total, err = quantizeExport(req.Source, arch.GGUFArch, kvs, tensors, *req.Quant); err != nil {
			return nil, err
		}
		kvs = quant.OutputMetadata(kvs, req.Quant.FileType, nil, nil)
	}

	trackProgress(ctx, tensors, sizes, start, progress)
	final := func() ([]gguf.KV, error) { return finalKVs(kvs) }
	files := []string{req.Output}
	if req.Split != nil {
		opt := *req.Split
		opt.GGUFPy, opt.QuantizeKeyOrder = true, true
		files, err = gguf.WriteSplitDeferred(ctx, req.Output, kvs, tensors, opt, final)
	} else {
		err = gguf.WriteDeferred(ctx, req.Output, kvs, tensors, final)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("export: %s: %w", req.Source, err)
	}
	return &ExportResult{Arch: det.Arch, Tensors: len(tensors), Dropped: dropped, Files: files, Bytes: total, Elapsed: time.Since(start)}, nil
}

// guessType is convert_hf_to_gguf.py's --outtype auto: the dtype of the
// first tensor of at least two dimensions when it is BF16 or F16, else F16.
func guessType(infos []formats.TensorInfo) formats.DType {
	for _, t := range infos {
		if len(t.Shape) < 2 {
			continue
		}
		switch t.DType {
		case formats.BF16:
			return formats.BF16
		case formats.F16:
			return formats.F16
		}
	}
	return formats.F16
}

func firstDim(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

// checkReport refuses a checkpoint the mapping does not fully explain,
// before any output is written.
func checkReport(src string, rep *mapping.Report) error {
	var problems []string
	for _, u := range rep.Unmapped {
		problems = append(problems, fmt.Sprintf("unmapped tensor %q", u.Name))
	}
	for _, s := range rep.ShapeMismatches {
		problems = append(problems, fmt.Sprintf("shape mismatch: %+v", s))
	}
	for _, c := range rep.Collisions {
		problems = append(problems, fmt.Sprintf("collision: %+v", c))
	}
	for _, mi := range rep.Missing {
		problems = append(problems, fmt.Sprintf("missing tensor: %+v", mi))
	}
	if len(problems) == 0 {
		return nil
	}
	const maxList = 20
	extra := ""
	if len(problems) > maxList {
		extra = fmt.Sprintf("\n  … and %d more", len(problems)-maxList)
		problems = problems[:maxList]
	}
	return fmt.Errorf("export: %s: the mapping does not cover the checkpoint (see `mlmf map %s`; a mapping file given with --rules can fix names, --drop-unmapped leaves unmapped tensors out):\n  %s%s",
		src, src, strings.Join(problems, "\n  "), extra)
}

// viewer is a reader that maps tensors (safetensors files and shards).
type viewer interface {
	View(name string) ([]byte, error)
}

// f32Bytes views a float32 slice as its little-endian bytes (the machines
// mlmf runs on are little-endian, as GGUF is).
func f32Bytes(x []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)*4)
}

// permuteQK reorders the rows of a Q or K projection (or its bias) from
// HF's rotate-half layout to llama.cpp's interleaved one, as
// convert_hf_to_gguf.py's LlamaModel.permute does:
// w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(w.shape).
func permuteQK(x []float32, shape []int64, nHead int) []float32 {
	cols := 1
	for _, d := range shape[1:] {
		cols *= int(d)
	}
	out := make([]float32, len(x))
	permuteRows(f32Bytes(out), f32Bytes(x), 4*cols, nHead)
	return out
}

// exportKVs is the metadata convert_hf_to_gguf.py writes, in its order:
// general.*, the architecture's hyper-parameters, then the vocabulary.
func exportKVs(dir string, h *hparams, arch string, extra []gguf.KV, fileType uint32, count paramCount, vocab bool) ([]gguf.KV, error) {
	kvs := append([]gguf.KV{gguf.String("general.architecture", arch)}, extra...)
	kvs = append(kvs,
		gguf.String("general.type", "model"),
		gguf.String("general.name", idToTitle(filepath.Base(filepath.Clean(dir)))),
	)
	if label := count.label(); label != "" {
		kvs = append(kvs, gguf.String("general.size_label", label))
	}
	hyper, err := hyperKVs(h, arch, fileType)
	if err != nil {
		return nil, err
	}
	kvs = append(kvs, hyper...)
	kvs = append(kvs, gguf.Uint32("general.quantization_version", 2))
	if !vocab {
		return kvs, nil
	}
	v, err := tokenizer.FromDir(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %s: vocabulary: %w (--no-vocab writes the file without one)", dir, err)
	}
	if adjust := vocabAdjust[arch]; adjust != nil {
		if err := adjust(dir, h, v); err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary: %w", dir, err)
		}
	}
	for _, kv := range v.KVs() {
		g, err := gguf.NewKV(kv.Key, kv.Value)
		if err != nil {
			return nil, fmt.Errorf("export: %s: vocabulary: %w", dir, err)
		}
		kvs = append(kvs, g)
	}
	return kvs, nil
}

// paramCount is gguf-py's GGUFWriter.get_total_parameter_count over the
// written tensors: expert tensors ("_exps.") count once per expert.
type paramCount struct {
	total, shared, expert int64
	expertSum, nExpert    int64
}

func (c *paramCount) add(name string, shape []int64) {
	size := prod(shape)
	c.total += size
	if !strings.Contains(name, "_exps.") || len(shape) < 3 {
		c.shared += size
		return
	}
	// Row-major like gguf-py's: the expert count is shape[-3] (shape[-2]
	// for a bias).
	n := shape[len(shape)-3]
	if strings.Contains(name, ".bias") {
		n = shape[len(shape)-2]
	}
	if n > 0 {
		c.expert += size / n
		c.expertSum += n
		c.nExpert++
	}
}

// label is gguf-py's size_label.
func (c paramCount) label() string {
	if c.nExpert > 0 {
		return fmt.Sprintf("%dx%s", c.expertSum/c.nExpert, sizeLabel(c.shared+c.expert))
	}
	if c.total > 0 {
		return sizeLabel(c.total)
	}
	return ""
}

// exportArchs are the mapping architectures the export handles: their
// GGUF architecture has a hyper-parameter recipe (archKVs) and the interop
// tests (tests/interop/test_export.py, test_export_archs.py) compare their
// output with convert_hf_to_gguf.py's byte for byte.
var exportArchs = map[string]bool{
	"llama": true, "mistral": true, "mixtral": true, "qwen2": true, "qwen2_moe": true,
	"gemma2": true, "phi3": true, "gpt2": true,
}

// exportArchNames lists exportArchs, sorted.
func exportArchNames() []string {
	out := make([]string, 0, len(exportArchs))
	for a := range exportArchs {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

var versionWord = regexp.MustCompile(`^(v\d+(?:\.\d+)*|\d.*)$`)

// idToTitle is gguf-py's Metadata.id_to_title: the directory name with
// dashes as spaces and lower-case words title-cased, except versions and
// numbers.
func idToTitle(s string) string {
	words := strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "-", " "))
	for i, w := range words {
		if w == strings.ToLower(w) && w != strings.ToUpper(w) && !versionWord.MatchString(w) {
			words[i] = pyTitle(w)
		}
	}
	return strings.Join(words, " ")
}

// pyTitle is Python's str.title for ASCII: a letter after a non-letter is
// upper-cased.
func pyTitle(w string) string {
	b := []byte(w)
	prevLetter := false
	for i, c := range b {
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if isLetter && !prevLetter && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		prevLetter = isLetter
	}
	return string(b)
}

// sizeLabel is gguf-py's size_label for a dense model:
// model_weight_count_rounded_notation(total, min_digits=2).
func sizeLabel(n int64) string {
	f := float64(n)
	var scaled float64
	var suffix string
	switch {
	case f > 1e12:
		scaled, suffix = f*1e-12, "T"
	case f > 1e9:
		scaled, suffix = f*1e-9, "B"
	case f > 1e6:
		scaled, suffix = f*1e-6, "M"
	default:
		scaled, suffix = f*1e-3, "K"
	}
	digits := strings.TrimLeft(fmt.Sprint(int64(math.RoundToEven(scaled))), "0")
	fix := max(2-len(digits), 0)
	return fmt.Sprintf("%.*f%s", fix, scaled, suffix)
}
