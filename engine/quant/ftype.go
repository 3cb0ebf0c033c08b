// Package quant chooses, tensor by tensor, the ggml type a model is
// quantized to, as llama-quantize does: the file-type presets (Q4_K_M …),
// the per-tensor mixture rules, the fallbacks for rows not divisible by the
// block size, and the overrides of llama-quantize's flags. It is pure: it
// decides, it does not quantize.
//
// The rules are a port of llama.cpp's src/llama-quant.cpp at commit
// 007dbbf3fd17eefe9b47fee45f48f7ba5e62b714 (tensor_allows_quantization,
// tensor_get_category, llama_tensor_get_type_impl, tensor_type_fallback,
// llama_tensor_get_type, tensor_requires_imatrix,
// llama_ftype_get_default_type, init_quantize_state_counters) and of the
// flag parsing in tools/quantize/quantize.cpp; Options.Rules = Rules2025
// reproduces the llama.cpp of late 2025 instead (see Rules2025 for the
// differences), for comparisons against a llama.cpp of that age.
//
// PlanModel returns one Decision per tensor, in the order llama-quantize
// writes them (LlamaOrder); OutputMetadata gives the KVs it writes. Every
// choice carries the rule that made it, fallbacks are flagged, and what
// llama-quantize refuses is an error here too.
package quant

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mlmf/formats"
)

// ErrUnsupported and ErrInvalid are the package's sentinels.
var (
	ErrUnsupported = formats.ErrUnsupported
	// ErrInvalid: an option or a model that the rules refuse.
	ErrInvalid = errors.New("invalid quantization request")
)

// FileType is a llama_ftype: a file-level mixture of tensor types.
type FileType int

// File types with llama.cpp's LLAMA_FTYPE_* ids. NVFP4, Q1_0 and Q2_0 are
// left out: mlmf's dtype table has no such tensor types yet.
const (
	AllF32    FileType = 0
	F16       FileType = 1
	Q4_0      FileType = 2
	Q4_1      FileType = 3
	Q8_0      FileType = 7
	Q5_0      FileType = 8
	Q5_1      FileType = 9
	Q2_K      FileType = 10
	Q3_K_S    FileType = 11
	Q3_K_M    FileType = 12
	Q3_K_L    FileType = 13
	Q4_K_S    FileType = 14
	Q4_K_M    FileType = 15
	Q5_K_S    FileType = 16
	Q5_K_M    FileType = 17
	Q6_K      FileType = 18
	IQ2_XXS   FileType = 19
	IQ2_XS    FileType = 20
	Q2_K_S    FileType = 21
	IQ3_XS    FileType = 22
	IQ3_XXS   FileType = 23
	IQ1_S     FileType = 24
	IQ4_NL    FileType = 25
	IQ3_S     FileType = 26
	IQ3_M     FileType = 27
	IQ2_S     FileType = 28
	IQ2_M     FileType = 29
	IQ4_XS    FileType = 30
	IQ1_M     FileType = 31
	BF16      FileType = 32
	TQ1_0     FileType = 36
	TQ2_0     FileType = 37
	MXFP4_MOE FileType = 38
)

// fileTypes lists the presets by their llama-quantize names, in
// llama-quantize's QUANT_OPTIONS order (aliases included).
var fileTypes = []struct {
	name string
	ft   FileType
}{
	{"Q4_0", Q4_0}, {"Q4_1", Q4_1}, {"MXFP4_MOE", MXFP4_MOE}, {"Q5_0", Q5_0}, {"Q5_1", Q5_1},
	{"IQ2_XXS", IQ2_XXS}, {"IQ2_XS", IQ2_XS}, {"IQ2_S", IQ2_S}, {"IQ2_M", IQ2_M},
	{"IQ1_S", IQ1_S}, {"IQ1_M", IQ1_M}, {"TQ1_0", TQ1_0}, {"TQ2_0", TQ2_0},
	{"Q2_K", Q2_K}, {"Q2_K_S", Q2_K_S}, {"IQ3_XXS", IQ3_XXS}, {"IQ3_S", IQ3_S}, {"IQ3_M", IQ3_M},
	{"Q3_K", Q3_K_M}, {"IQ3_XS", IQ3_XS}, {"Q3_K_S", Q3_K_S}, {"Q3_K_M", Q3_K_M}, {"Q3_K_L", Q3_K_L},
	{"IQ4_NL", IQ4_NL}, {"IQ4_XS", IQ4_XS}, {"Q4_K", Q4_K_M}, {"Q4_K_S", Q4_K_S}, {"Q4_K_M", Q4_K_M},
	{"Q5_K", Q5_K_M}, {"Q5_K_S", Q5_K_S}, {"Q5_K_M", Q5_K_M}, {"Q6_K", Q6_K}, {"Q8_0", Q8_0},
	{"F16", F16}, {"BF16", BF16}, {"F32", AllF32},
}

// String returns the preset's llama-quantize name (the non-alias one).
func (ft FileType) String() string {
	for _, e := range fileTypes {
		if e.ft == ft && e.name != "Q3_K" && e.name != "Q4_K" && e.name != "Q5_K" {
			return e.name
		}
	}
	return "FileType(" + strconv.Itoa(int(ft)) + ")"
}

// ParseFileType parses a preset name case-insensitively ("q4_k_m", the
// aliases Q3_K, Q4_K, Q5_K) or its numeric id, as llama-quantize does.
// "COPY" is not a file type: use Options.OnlyCopy.
func ParseFileType(s string) (FileType, error) {
	for _, e := range fileTypes {
		if strings.EqualFold(e.name, s) {
			return e.ft, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil {
		for _, e := range fileTypes {
			if int(e.ft) == n {
				return e.ft, nil
			}
		}
	}
	var names []string
	for _, e := range fileTypes {
		names = append(names, e.name)
	}
	return 0, fmt.Errorf("quant: unknown file type %q (known: %s): %w", s, strings.Join(names, ", "), ErrUnsupported)
}

// DefaultType is llama_ftype_get_default_type: the tensor type most
// tensors of the preset get.
func (ft FileType) DefaultType() (formats.DType, error) {
	switch ft {
	case Q4_0:
		return formats.Q4_0, nil
	case Q4_1:
		return formats.Q4_1, nil
	case Q5_0:
		return formats.Q5_0, nil
	case Q5_1:
		return formats.Q5_1, nil
	case Q8_0:
		return formats.Q8_0, nil
	case F16:
		return formats.F16, nil
	case BF16:
		return formats.BF16, nil
	case AllF32:
		return formats.F32, nil
	case MXFP4_MOE:
		return formats.MXFP4, nil
	case Q2_K_S, Q2_K:
		return formats.Q2_K, nil
	case IQ3_XS:
		return formats.IQ3_S, nil
	case Q3_K_S, Q3_K_M, Q3_K_L:
		return formats.Q3_K, nil
	case Q4_K_S, Q4_K_M:
		return formats.Q4_K, nil
	case Q5_K_S, Q5_K_M:
		return formats.Q5_K, nil
	case Q6_K:
		return formats.Q6_K, nil
	case TQ1_0:
		return formats.TQ1_0, nil
	case TQ2_0:
		return formats.TQ2_0, nil
	case IQ2_XXS:
		return formats.IQ2_XXS, nil
	case IQ2_XS, IQ2_S:
		return formats.IQ2_XS, nil
	case IQ2_M:
		return formats.IQ2_S, nil
	case IQ3_XXS:
		return formats.IQ3_XXS, nil
	case IQ1_S:
		return formats.IQ1_S, nil
	case IQ1_M:
		return formats.IQ1_M, nil
	case IQ4_NL:
		return formats.IQ4_NL, nil
	case IQ4_XS:
		return formats.IQ4_XS, nil
	case IQ3_S, IQ3_M:
		return formats.IQ3_S, nil
	}
	return formats.Invalid, fmt.Errorf("quant: invalid output file type %d: %w", int(ft), ErrUnsupported)
}

// ParseType parses a ggml tensor type name as llama-quantize's
// parse_ggml_type does (case-insensitive ggml_type_name: "q4_k", "f16",
// "bf16", "iq4_nl" …).
func ParseType(s string) (formats.DType, error) {
	d, err := formats.ParseDType(s)
	if err == nil {
		if _, ok := d.GGML(); ok {
			return d, nil
		}
	}
	return formats.Invalid, fmt.Errorf("quant: invalid ggml type %q: %w", s, ErrUnsupported)
}
