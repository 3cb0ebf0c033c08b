package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"mlmf/engine/quant"
	"mlmf/formats"
)

// GGUFTypes are the types of `--to gguf --type` that convert_hf_to_gguf.py
// knows as --outtype ("auto" is the converter's default: the source's
// 16-bit type, else F16).
var GGUFTypes = []string{"auto", "F32", "F16", "BF16", "Q8_0"}

// GGUFPresets are the llama-quantize presets a form offers first (any name
// quant.ParseFileType knows is accepted).
var GGUFPresets = []string{"Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q5_K_S", "Q4_K_S", "Q3_K_M", "Q4_0", "Q2_K"}

// ExportTypes fills req.Type and req.Quant from the options of `--to gguf`:
// typ (--type: F32, F16, BF16, Q8_0, auto or "", or a llama-quantize
// preset), tensorTypes (--tensor-type REGEX=TYPE), outType
// (--output-tensor-type) and embType (--token-embedding-type). The three
// overrides need a preset. The CLI and the TUI's Convert form share it; its
// errors name the flags.
func ExportTypes(req *ExportRequest, typ string, tensorTypes []string, outType, embType string) error {
	overrides := len(tensorTypes) > 0 || outType != "" || embType != ""
	req.Type, req.Quant = formats.Invalid, nil
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "", "AUTO":
		if overrides {
			return fmt.Errorf("--tensor-type, --output-tensor-type and --token-embedding-type need a llama-quantize preset in --type (Q4_K_M, Q6_K, …)")
		}
		return nil
	case "F32", "F16", "BF16", "Q8_0":
		if overrides {
			return fmt.Errorf("--type %s is convert_hf_to_gguf.py's type, which takes no per-tensor types; name a llama-quantize preset (Q4_K_M, Q6_K, …)", typ)
		}
		d, err := formats.ParseDType(typ)
		if err != nil {
			return fmt.Errorf("--type: %w", err)
		}
		req.Type = d
		return nil
	case "Q3_K", "Q4_K", "Q5_K":
		// llama-quantize's aliases of the _M presets read like tensor types here.
		return fmt.Errorf("--type %s: say which preset (%s_S or %s_M), or choose F32, F16, BF16 or Q8_0", typ, strings.ToUpper(typ), strings.ToUpper(typ))
	}
	if _, err := quant.ParseFileType(typ); err != nil {
		return fmt.Errorf("--type %s: choose F32, F16, BF16, Q8_0 or a llama-quantize preset (Q4_K_M, Q6_K, …)", typ)
	}
	opt, err := QuantOptions(typ, tensorTypes, outType, embType)
	if err != nil {
		return err
	}
	req.Quant = &opt
	return nil
}

// QuantOptions parses a llama-quantize preset and its overrides
// (--tensor-type REGEX=TYPE, --output-tensor-type, --token-embedding-type)
// for ExportRequest.Quant and QuantizeRequest.Options. Each regular
// expression is compiled here, so a bad one is reported before a job
// starts.
func QuantOptions(preset string, tensorTypes []string, outType, embType string) (quant.Options, error) {
	ft, err := quant.ParseFileType(strings.TrimSpace(preset))
	if err != nil {
		return quant.Options{}, fmt.Errorf("--type %s: choose a llama-quantize preset (Q4_K_M, Q6_K, …)", preset)
	}
	opt := quant.Options{FileType: ft}
	parse := func(flagName, s string) (formats.DType, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return formats.Invalid, nil
		}
		d, err := quant.ParseType(s)
		if err != nil {
			return 0, fmt.Errorf("--%s: %w", flagName, err)
		}
		return d, nil
	}
	if opt.OutputTensorType, err = parse("output-tensor-type", outType); err != nil {
		return opt, err
	}
	if opt.TokenEmbeddingType, err = parse("token-embedding-type", embType); err != nil {
		return opt, err
	}
	for _, s := range tensorTypes {
		tt, err := quant.ParseTensorType(s)
		if err != nil {
			return opt, fmt.Errorf("--tensor-type: %w", err)
		}
		if _, err := regexp.Compile(tt.Pattern); err != nil {
			return opt, fmt.Errorf("--tensor-type %s: bad regular expression: %w", s, err)
		}
		opt.TensorTypes = append(opt.TensorTypes, tt)
	}
	return opt, nil
}

// HasVocab reports whether a checkpoint's directory holds a tokenizer the
// GGUF export reads (tokenizer.json or tokenizer.model); without one the
// export needs NoVocab. It stats two files.
func HasVocab(source string) bool {
	dir := source
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer.model"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}
