package quant

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"mlmf/formats"
)

// Model is what the type selection needs to know about a model: its
// architecture (general.architecture), hyper-parameters, and tensors with
// their current types and row-major shapes.
type Model struct {
	Arch    string
	NLayer  int // {arch}.block_count
	NExpert int // {arch}.expert_count, 0 for dense models
	NHead   int // {arch}.attention.head_count (of layer 0)
	NHeadKV int // {arch}.attention.head_count_kv (of layer 0)
	Tensors []formats.TensorInfo
	// Splits is the index of the split file holding each tensor of a
	// split model (nil for one file); KeepSplit plans in split order.
	Splits []int
}

// nGQA is llama_hparams::n_gqa(0).
func (m Model) nGQA() int {
	if m.NHeadKV == 0 {
		return 0
	}
	return m.NHead / m.NHeadKV
}

// is70B mirrors LLM_TYPE_70B, the only model size the rules look at: a
// LLaMA of 80 layers with grouped-query attention.
func (m Model) is70B() bool {
	return m.Arch == "llama" && m.NLayer == 80 && m.NHead != m.NHeadKV
}

// TensorType is one --tensor-type REGEX=TYPE override.
type TensorType struct {
	Pattern string // a regular expression searched in GGUF tensor names
	Type    formats.DType
}

// ParseTensorType parses a --tensor-type argument as llama-quantize does:
// NAME=TYPE, the name lower-cased, the type a ggml type name.
func ParseTensorType(s string) (TensorType, error) {
	name, typ, ok := strings.Cut(s, "=")
	if !ok {
		return TensorType{}, fmt.Errorf("quant: malformed tensor type %q: want REGEX=TYPE: %w", s, ErrInvalid)
	}
	if name == "" {
		return TensorType{}, fmt.Errorf("quant: tensor type %q: missing tensor name: %w", s, ErrInvalid)
	}
	if typ == "" {
		return TensorType{}, fmt.Errorf("quant: tensor type %q: missing quantization type: %w", s, ErrInvalid)
	}
	t, err := ParseType(typ)
	if err != nil {
		return TensorType{}, err
	}
	return TensorType{Pattern: strings.ToLower(name), Type: t}, nil
}

// Rules selects which llama.cpp's rules to reproduce. They changed in
// early 2026 (the tensor categories of src/llama-quant.cpp); pick the one of
// the llama.cpp whose output must be matched byte for byte.
type Rules int

const (
	// RulesLatest: llama.cpp at commit 007dbbf3 (2026).
	RulesLatest Rules = iota
	// Rules2025: llama.cpp of the second half of 2025 (MXFP4_MOE present,
	// before the tensor categories). It differs from RulesLatest in that
	// attn_qkv has its own rules (Q3_K_M/Q3_K_L/IQ3_M → Q4_K, Q4_K_M → Q5_K,
	// Q5_K_M → Q6_K) and attn_kv_b has none; Q2_K and Q3_K fall back to
	// IQ4_NL instead of Q4_0; --tensor-type is applied after the mixture
	// rules (the last matching pattern wins, the layer counters advance as
	// usual) and not at all to tensors that needed a fallback or under
	// --pure; --pure skips the fallbacks; --token-embedding-type and the tied
	// embeddings rule concern token_embd.weight only; fewer tensors are
	// kept unquantized (no DeepSeek-V4, MiniMax indexer, SAM, audio-codebook
	// or .rel_pos/.patch_embd/.patch_merger exceptions; ".position_embd."
	// with its trailing dot); and the importance-matrix requirement covers
	// IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M (not for token_embd/output) and
	// Q2_K in Q2_K_S (not for token_embd), not IQ3_XXS.
	Rules2025
)

// Options mirror llama-quantize's flags.
type Options struct {
	FileType FileType
	// Rules picks the llama.cpp version to reproduce (default RulesLatest).
	Rules Rules
	// Pure is --pure: no k-quant mixture, every quantizable tensor gets the
	// default type (fallbacks still apply).
	Pure bool
	// OutputTensorType is --output-tensor-type (formats.Invalid: unset).
	OutputTensorType formats.DType
	// TokenEmbeddingType is --token-embedding-type (formats.Invalid: unset).
	TokenEmbeddingType formats.DType
	// TensorTypes are the --tensor-type overrides, the first match wins.
	TensorTypes []TensorType
	// LeaveOutputTensor is --leave-output-tensor.
	LeaveOutputTensor bool
	// AllowRequantize is --allow-requantize.
	AllowRequantize bool
	// OnlyCopy is llama-quantize's COPY type: nothing is quantized.
	OnlyCopy bool
	// HasImatrix tells the rules an importance matrix will be used (some
	// choices depend on it).
	HasImatrix bool
	// DryRun plans without failing when a type needs an importance matrix
	// that is not there (Decision.RequiresImatrix tells which).
	DryRun bool
	// KeepSplit is --keep-split: with Model.Splits set, tensors are planned
	// and written in split order (split, then offset), as llama.cpp sorts
	// them for one output split per input split.
	KeepSplit bool
}

// Decision is the type chosen for one tensor.
type Decision struct {
	Name string
	From formats.DType // the type in the input
	To   formats.DType // the type in the output
	// Quantize is false when the tensor is copied as it is (To == From).
	Quantize bool
	// Reason says which rule chose To.
	Reason string
	// Fallback is true when the rule's type could not hold the tensor's
	// rows and a compatible type replaced it (Reason says which).
	Fallback bool
	// RequiresImatrix is tensor_requires_imatrix: this type is garbage
	// without an importance matrix.
	RequiresImatrix bool
}

type category int

const (
	catTokenEmbd category = iota
	catAttnQ
	catAttnV
	catAttnK
	catAttnQKV
	catAttnKVB
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
	catOutput
	catOther
)

func isTokenEmbd(name string) bool {
	return name == "token_embd.weight" || name == "per_layer_token_embd.weight"
}

// tensorCategory is tensor_get_category.
func tensorCategory(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case isTokenEmbd(name):
		return catTokenEmbd
	case strings.Contains(name, "attn_qkv.weight"):
		return catAttnQKV
	case strings.Contains(name, "attn_kv_b.weight"):
		return catAttnKVB
	case strings.Contains(name, "attn_v.weight"):
		return catAttnV
	case strings.Contains(name, "attn_k.weight"):
		return catAttnK
	case strings.Contains(name, "attn_q.weight"):
		return catAttnQ
	case strings.Contains(name, "attn_output.weight"):
		return catAttnOutput
	case strings.Contains(name, "ffn_up"):
		return catFFNUp
	case strings.Contains(name, "ffn_gate"):
		return catFFNGate
	case strings.Contains(name, "ffn_down"):
		return catFFNDown
	}
	return catOther
}

// tensorCategory2025 is the name matching of llama_tensor_get_type in 2025,
// in its order of tests.
func tensorCategory2025(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case isTokenEmbd(name):
		return catTokenEmbd
	case strings.Contains(name, "attn_v.weight"):
		return catAttnV
	case strings.Contains(name, "attn_k.weight"):
		return catAttnK
	case strings.Contains(name, "attn_q.weight"):
		return catAttnQ
	case strings.Contains(name, "ffn_down"):
		return catFFNDown
	case strings.Contains(name, "attn_output.weight"):
		return catAttnOutput
	case strings.Contains(name, "attn_qkv.weight"):
		return catAttnQKV
	case strings.Contains(name, "ffn_gate"):
		return catFFNGate
	case strings.Contains(name, "ffn_up"):
		return catFFNUp
	}
	return catOther
}

// countsAsAttnV: the tensors n_attention_wv counts (the same in both rule
// sets: attn_v, attn_qkv, attn_kv_b).
func countsAsAttnV(name string) bool {
	return strings.Contains(name, "attn_v.weight") || strings.Contains(name, "attn_qkv.weight") || strings.Contains(name, "attn_kv_b.weight")
}

// isAttnV is category_is_attn_v. Note: at the ported commit attn_qkv and
// attn_kv_b take the attn_v rules (the separate attn_qkv branch after them
// is unreachable); with Rules2025 attn_qkv has its own rules.
func isAttnV(c category) bool { return c == catAttnV || c == catAttnQKV || c == catAttnKVB }

func (s *state) isAttnV(c category) bool {
	if s.rules == Rules2025 {
		return c == catAttnV
	}
	return isAttnV(c)
}

func (s *state) category(name string) category {
	if s.rules == Rules2025 {
		return tensorCategory2025(name)
	}
	return tensorCategory(name)
}

// notQuantized lists name fragments tensor_allows_quantization keeps as
// they are.
var notQuantized = []string{
	"_norm.weight",
	"ffn_gate_inp.weight",     // expert gating
	"ffn_gate_tid2eid.weight", // DeepSeek-V4 token → expert routing table
	"altup", "laurel",         // very small (Gemma 3n)
	"per_layer_model_proj",
	"ssm_conv1d", "shortconv.conv.weight", // Mamba / Kimi conv1d
	"indexer.k_proj.weight", "indexer.q_proj.weight", // MiniMax, tiny
	"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
	"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
	"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
	"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", // RWKV
	"attn_rel_b.weight",                                                                                   // T5 relative position bias
	".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", // multimodal
	"a.rvq.codebook", "mm.a.code_embd", // audio codebooks
}

// ne returns ggml's ne[i] of a row-major shape.
func ne(shape []int64, i int) int64 {
	if i < len(shape) {
		return shape[len(shape)-1-i]
	}
	return 1
}

// nDims is ggml_n_dims: trailing dimensions of 1 do not count.
func nDims(shape []int64) int {
	for i := 3; i >= 1; i-- {
		if ne(shape, i) > 1 {
			return i + 1
		}
	}
	return 1
}

// notQuantized2025 is the 2025 list.
var notQuantized2025 = []string{
	"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
	"ssm_conv1d.weight", "shortconv.conv.weight",
	"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
	"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
	"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
	"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
	"attn_rel_b.weight", ".position_embd.",
}

// allowsQuantization is tensor_allows_quantization; it returns why not.
func allowsQuantization(opt *Options, t formats.TensorInfo) (bool, string) {
	if opt.OnlyCopy {
		return false, "copy only (COPY)"
	}
	if nDims(t.Shape) < 2 {
		return false, "1-D tensors are not quantized"
	}
	if !strings.HasSuffix(t.Name, "weight") {
		return false, "only tensors whose name ends in \"weight\" are quantized"
	}
	if opt.LeaveOutputTensor && t.Name == "output.weight" {
		return false, "--leave-output-tensor"
	}
	list := notQuantized
	if opt.Rules == Rules2025 {
		list = notQuantized2025
	}
	for _, s := range list {
		if strings.Contains(t.Name, s) {
			return false, fmt.Sprintf("tensors matching %q are kept as they are", s)
		}
	}
	// LLM_TN(arch)(LLM_TENSOR_POS_EMBD / TOKEN_TYPES, "weight"): the same names
	// in every architecture that has these tensors.
	if t.Name == "position_embd.weight" || t.Name == "token_types.weight" {
		return false, "positional embeddings and token types are kept as they are"
	}
	return true, ""
}

// state is quantize_state_impl's counters.
type state struct {
	m                          *Model
	opt                        *Options
	nAttnV, iAttnV             int
	nFFNDown, nFFNGate, nFFNUp int
	iFFNDown, iFFNGate, iFFNUp int
	hasTiedEmbeddings          bool
	patterns                   []*regexp.Regexp
	rules                      Rules
	nFallback                  int
}

func useMoreBits(iLayer, nLayers int) bool {
	return iLayer < nLayers/8 || iLayer >= 7*nLayers/8 || (iLayer-nLayers/8)%3 == 2
}

// layerInfo: with experts, the layer comes from the name (experts are not
// stored in layer order); otherwise from the counter.
func (s *state) layerInfo(i, n int, name string) (int, int, error) {
	if max(1, s.m.NExpert) > 1 {
		l, ok := scanLayer(name)
		if !ok {
			return 0, 0, fmt.Errorf("quant: failed to determine the layer of tensor %q: %w", name, ErrInvalid)
		}
		if l < 0 || l >= n {
			return 0, 0, fmt.Errorf("quant: bad layer %d for tensor %q: must be in [0, %d): %w", l, name, n, ErrInvalid)
		}
		i = l
	}
	return i, n, nil
}

// scanLayer is sscanf(name, "blk.%d.", &layer).
func scanLayer(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, false
	}
	rest = strings.TrimLeft(rest, " \t\n\v\f\r")
	j := 0
	if j < len(rest) && (rest[j] == '+' || rest[j] == '-') {
		j++
	}
	k := j
	for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	if k == j || k-j > 9 {
		return 0, false
	}
	n := 0
	for _, c := range rest[j:k] {
		n = n*10 + int(c-'0')
	}
	if rest[0] == '-' {
		n = -n
	}
	return n, true
}

func oneOf(ft FileType, fts ...FileType) bool { return slices.Contains(fts, ft) }

// getTypeImpl is llama_tensor_get_type_impl. It returns the type and the
// rule that chose it.
func (s *state) getTypeImpl(newType formats.DType, t formats.TensorInfo, ft FileType, cat category) (formats.DType, string, error) {
	name := t.Name
	arch := s.m.Arch
	nExpert := s.m.NExpert
	gqa := s.m.nGQA()
	why := "default type of " + ft.String()

	tiedEmbd := s.hasTiedEmbeddings && cat == catTokenEmbd
	if s.rules == Rules2025 {
		tiedEmbd = s.hasTiedEmbeddings && name == "token_embd.weight"
	}
	if cat == catOutput || tiedEmbd {
		what := "output.weight"
		if cat == catTokenEmbd {
			what = "token embeddings tied to the output (no output.weight)"
		}
		if s.opt.OutputTensorType != formats.Invalid {
			return s.opt.OutputTensorType, what + ": --output-tensor-type", nil
		}
		nx := ne(t.Shape, 0)
		qk := int64(newType.BlockSize())
		switch {
		case ft == MXFP4_MOE:
			return formats.Q8_0, what + ": Q8_0 in MXFP4_MOE", nil
		case arch == "falcon" || nx%qk != 0:
			if arch == "falcon" {
				return formats.Q8_0, what + ": Q8_0 for Falcon", nil
			}
			return formats.Q8_0, fmt.Sprintf("%s: Q8_0 (row of %d not a multiple of %v's block of %d)", what, nx, newType, qk), nil
		case oneOf(ft, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ2_S, IQ2_M, IQ1_M):
			return formats.Q5_K, what + ": Q5_K for IQ1/IQ2/IQ3_XXS presets", nil
		case newType != formats.Q8_0:
			return formats.Q6_K, what + ": Q6_K", nil
		}
		return newType, what + ": keeps Q8_0", nil
	}
	if ft == MXFP4_MOE {
		isBailingExpert := arch == "bailingmoe3" && (cat == catFFNUp || cat == catFFNGate || cat == catFFNDown)
		if ne(t.Shape, 2) > 1 && (arch != "bailingmoe3" || isBailingExpert) {
			return formats.MXFP4, "MXFP4_MOE: expert tensors (ne[2] > 1) get MXFP4", nil
		}
		return formats.Q8_0, "MXFP4_MOE: non-expert tensors get Q8_0", nil
	}
	if cat == catTokenEmbd {
		if s.opt.TokenEmbeddingType != formats.Invalid {
			return s.opt.TokenEmbeddingType, "token embeddings: --token-embedding-type", nil
		}
		switch {
		case oneOf(ft, IQ2_XXS, IQ2_XS, IQ1_S, IQ1_M):
			return formats.Q2_K, "token embeddings: Q2_K for IQ1/IQ2_XXS/IQ2_XS", nil
		case oneOf(ft, IQ2_S, IQ2_M):
			return formats.IQ3_S, "token embeddings: IQ3_S for IQ2_S/IQ2_M", nil
		case ft == IQ3_XXS:
			return formats.IQ3_S, "token embeddings: IQ3_S for IQ3_XXS", nil
		case oneOf(ft, TQ1_0, TQ2_0):
			return formats.Q4_K, "token embeddings: Q4_K for ternary presets", nil
		}
		return newType, "token embeddings: " + why, nil
	}
	if oneOf(ft, IQ2_XXS, IQ2_XS, IQ1_S, IQ2_S, IQ2_M, IQ1_M) {
		switch {
		case s.isAttnV(cat):
			defer func() { s.iAttnV++ }()
			if gqa >= 4 || nExpert >= 4 {
				return formats.Q4_K, "attn_v: Q4_K (GQA >= 4 or >= 4 experts) in IQ1/IQ2 presets", nil
			}
			if oneOf(ft, IQ2_S, IQ2_M) {
				return formats.IQ3_S, "attn_v: IQ3_S in IQ2_S/IQ2_M", nil
			}
			return formats.Q2_K, "attn_v: Q2_K in IQ1/IQ2 presets", nil
		case nExpert == 8 && cat == catAttnK:
			return formats.Q4_K, "attn_k: Q4_K for 8-expert models in IQ1/IQ2 presets", nil
		case cat == catFFNDown:
			defer func() { s.iFFNDown++ }()
			if s.iFFNDown < s.nFFNDown/8 {
				if oneOf(ft, IQ2_S, IQ2_M) {
					return formats.IQ3_S, "ffn_down: IQ3_S in the first 1/8 of layers", nil
				}
				return formats.Q2_K, "ffn_down: Q2_K in the first 1/8 of layers", nil
			}
			return newType, "ffn_down: " + why, nil
		case cat == catAttnOutput:
			if nExpert == 8 {
				return formats.Q5_K, "attn_output: Q5_K for 8-expert models", nil
			}
			if oneOf(ft, IQ1_S, IQ1_M) {
				return formats.IQ2_XXS, "attn_output: IQ2_XXS in IQ1 presets", nil
			}
			if oneOf(ft, IQ2_S, IQ2_M) {
				return formats.IQ3_S, "attn_output: IQ3_S in IQ2_S/IQ2_M", nil
			}
		}
		return newType, why, nil
	}
	switch {
	case s.isAttnV(cat):
		label := map[category]string{catAttnV: "attn_v", catAttnQKV: "attn_qkv (attn_v rules)", catAttnKVB: "attn_kv_b (attn_v rules)"}[cat]
		i, n := s.iAttnV, s.nAttnV
		s.iAttnV++
		r := why
		switch {
		case ft == Q2_K:
			if gqa >= 4 {
				newType, r = formats.Q4_K, "Q4_K in Q2_K (GQA >= 4)"
			} else {
				newType, r = formats.Q3_K, "Q3_K in Q2_K"
			}
		case ft == Q2_K_S && gqa >= 4:
			newType, r = formats.Q4_K, "Q4_K in Q2_K_S (GQA >= 4)"
		case ft == IQ3_XXS:
			switch {
			case gqa >= 4:
				newType, r = formats.Q4_K, "Q4_K in IQ3_XXS (GQA >= 4)"
			case !s.opt.HasImatrix:
				newType, r = formats.IQ3_S, "IQ3_S in IQ3_XXS without imatrix"
			default:
				newType, r = formats.IQ3_XXS, "IQ3_XXS in IQ3_XXS with imatrix"
			}
		case oneOf(ft, IQ3_XS, IQ3_S) && gqa >= 4:
			newType, r = formats.Q4_K, "Q4_K in IQ3_XS/IQ3_S (GQA >= 4)"
		case ft == IQ3_M:
			newType, r = formats.Q4_K, "Q4_K in IQ3_M"
		case ft == Q3_K_M:
			if i < 2 {
				newType, r = formats.Q5_K, fmt.Sprintf("Q5_K in Q3_K_M for the first two (this is #%d)", i)
			} else {
				newType, r = formats.Q4_K, fmt.Sprintf("Q4_K in Q3_K_M (#%d)", i)
			}
		case ft == Q3_K_L:
			newType, r = formats.Q5_K, "Q5_K in Q3_K_L"
		case oneOf(ft, IQ4_NL, IQ4_XS) && gqa >= 4:
			newType, r = formats.Q5_K, "Q5_K in IQ4_NL/IQ4_XS (GQA >= 4)"
		case oneOf(ft, Q4_K_M, Q5_K_M) && useMoreBits(i, n):
			newType, r = formats.Q6_K, fmt.Sprintf("Q6_K in %v on a use_more_bits layer (#%d of %d)", ft, i, n)
		case ft == Q4_K_S && i < 4:
			newType, r = formats.Q5_K, fmt.Sprintf("Q5_K in Q4_K_S for the first four (#%d)", i)
		}
		if s.m.is70B() && (newType == formats.Q3_K || newType == formats.Q4_K) {
			newType, r = formats.Q5_K, r+"; Q5_K for a 70B LLaMA (8 heads share attn_v)"
		}
		if nExpert == 8 {
			newType, r = formats.Q8_0, "Q8_0 for 8-expert models"
		}
		return newType, label + ": " + r, nil
	case cat == catAttnK:
		switch {
		case nExpert == 8:
			return formats.Q8_0, "attn_k: Q8_0 for 8-expert models", nil
		case ft == IQ3_XS:
			return formats.IQ3_XXS, "attn_k: IQ3_XXS in IQ3_XS", nil
		case ft == IQ3_XXS:
			return formats.IQ2_S, "attn_k: IQ2_S in IQ3_XXS", nil
		}
		return newType, "attn_k: " + why, nil
	case cat == catAttnQ:
		switch ft {
		case IQ3_XS:
			return formats.IQ3_XXS, "attn_q: IQ3_XXS in IQ3_XS", nil
		case IQ3_XXS:
			return formats.IQ2_S, "attn_q: IQ2_S in IQ3_XXS", nil
		}
		return newType, "attn_q: " + why, nil
	case cat == catFFNDown:
		iLayer, nLayer, err := s.layerInfo(s.iFFNDown, s.nFFNDown, name)
		if err != nil {
			return 0, "", err
		}
		s.iFFNDown++
		r := why
		at := fmt.Sprintf(" (layer %d of %d)", iLayer, nLayer)
		switch {
		case ft == Q2_K:
			newType, r = formats.Q3_K, "Q3_K in Q2_K"
		case ft == Q2_K_S:
			if iLayer < nLayer/8 {
				newType, r = formats.Q4_K, "Q4_K in Q2_K_S for the first 1/8 of layers"
			}
		case ft == IQ3_XXS && !s.opt.HasImatrix:
			if iLayer < nLayer/8 {
				newType, r = formats.Q4_K, "Q4_K in IQ3_XXS without imatrix, first 1/8 of layers"
			} else {
				newType, r = formats.Q3_K, "Q3_K in IQ3_XXS without imatrix"
			}
		case ft == Q3_K_M:
			switch {
			case iLayer < nLayer/16:
				newType, r = formats.Q5_K, "Q5_K in Q3_K_M for the first 1/16 of layers"
			case arch != "falcon" || useMoreBits(iLayer, nLayer):
				newType, r = formats.Q4_K, "Q4_K in Q3_K_M"
			default:
				newType, r = formats.Q3_K, "Q3_K in Q3_K_M (Falcon)"
			}
		case ft == IQ3_M && (iLayer < nLayer/8 || (nExpert == 8 && useMoreBits(iLayer, nLayer))):
			newType, r = formats.Q4_K, "Q4_K in IQ3_M (first 1/8 of layers, or use_more_bits with 8 experts)"
		case ft == Q3_K_L:
			if arch == "falcon" {
				newType, r = formats.Q4_K, "Q4_K in Q3_K_L (Falcon)"
			} else {
				newType, r = formats.Q5_K, "Q5_K in Q3_K_L"
			}
		case ft == Q4_K_M:
			if arch == "falcon" {
				switch {
				case iLayer < nLayer/16:
					newType, r = formats.Q6_K, "Q6_K in Q4_K_M (Falcon, first 1/16 of layers)"
				case useMoreBits(iLayer, nLayer):
					newType, r = formats.Q5_K, "Q5_K in Q4_K_M (Falcon, use_more_bits layer)"
				default:
					newType, r = formats.Q4_K, "Q4_K in Q4_K_M (Falcon)"
				}
			} else if useMoreBits(iLayer, nLayer) {
				newType, r = formats.Q6_K, "Q6_K in Q4_K_M on a use_more_bits layer"
			}
		case iLayer < nLayer/8 && oneOf(ft, IQ4_NL, IQ4_XS) && !s.opt.HasImatrix:
			newType, r = formats.Q5_K, "Q5_K in IQ4_NL/IQ4_XS without imatrix, first 1/8 of layers"
		case ft == Q5_K_M && useMoreBits(iLayer, nLayer):
			newType, r = formats.Q6_K, "Q6_K in Q5_K_M on a use_more_bits layer"
		case ft == Q4_K_S && arch != "falcon" && iLayer < nLayer/8:
			newType, r = formats.Q5_K, "Q5_K in Q4_K_S for the first 1/8 of layers"
		case oneOf(ft, Q4_0, Q5_0) && s.opt.HasImatrix && iLayer < nLayer/8:
			if ft == Q4_0 {
				newType, r = formats.Q4_1, "Q4_1 in Q4_0 with imatrix, first 1/8 of layers"
			} else {
				newType, r = formats.Q5_1, "Q5_1 in Q5_0 with imatrix, first 1/8 of layers"
			}
		}
		return newType, "ffn_down: " + r + at, nil
	case cat == catAttnOutput:
		if arch != "falcon" {
			if nExpert == 8 {
				if oneOf(ft, Q2_K, IQ3_XS, IQ3_XXS, Q3_K_S, Q3_K_M, IQ4_NL, Q4_K_S, Q4_K_M, IQ3_S, IQ3_M, IQ4_XS) {
					return formats.Q5_K, "attn_output: Q5_K for 8-expert models", nil
				}
			} else {
				switch ft {
				case Q2_K:
					return formats.Q3_K, "attn_output: Q3_K in Q2_K", nil
				case IQ3_XXS:
					return formats.IQ3_S, "attn_output: IQ3_S in IQ3_XXS", nil
				case Q3_K_M:
					return formats.Q4_K, "attn_output: Q4_K in Q3_K_M", nil
				case Q3_K_L:
					return formats.Q5_K, "attn_output: Q5_K in Q3_K_L", nil
				case IQ3_M:
					return formats.Q4_K, "attn_output: Q4_K in IQ3_M", nil
				}
			}
		} else if ft == Q3_K_L {
			return formats.Q4_K, "attn_output: Q4_K in Q3_K_L (Falcon)", nil
		}
		return newType, "attn_output: " + why, nil
	case cat == catAttnQKV: // reachable with Rules2025 only
		switch ft {
		case Q3_K_M, Q3_K_L, IQ3_M:
			return formats.Q4_K, "attn_qkv: Q4_K in Q3_K_M/Q3_K_L/IQ3_M", nil
		case Q4_K_M:
			return formats.Q5_K, "attn_qkv: Q5_K in Q4_K_M", nil
		case Q5_K_M:
			return formats.Q6_K, "attn_qkv: Q6_K in Q5_K_M", nil
		}
		return newType, "attn_qkv: " + why, nil
	case cat == catFFNGate, cat == catFFNUp:
		label, counter, n := "ffn_gate", &s.iFFNGate, s.nFFNGate
		if cat == catFFNUp {
			label, counter, n = "ffn_up", &s.iFFNUp, s.nFFNUp
		}
		iLayer, nLayer, err := s.layerInfo(*counter, n, name)
		if err != nil {
			return 0, "", err
		}
		*counter++
		if ft == IQ3_XS && iLayer >= nLayer/8 && iLayer < 7*nLayer/8 {
			return formats.IQ3_XXS, label + ": IQ3_XXS in IQ3_XS for the middle layers", nil
		}
		return newType, label + ": " + why, nil
	}
	return newType, why, nil
}

// fallback is tensor_type_fallback: a type whose block does not divide the
// row is replaced by a compatible one.
func (s *state) fallback(t formats.TensorInfo, target formats.DType) (formats.DType, string, error) {
	ncols := ne(t.Shape, 0)
	qk := int64(target.BlockSize())
	if qk == 0 || ncols%qk == 0 {
		return target, "", nil
	}
	s.nFallback++
	var to formats.DType
	switch target {
	case formats.IQ1_S, formats.IQ1_M, formats.IQ2_XXS, formats.IQ2_XS, formats.IQ2_S, formats.IQ3_XXS, formats.IQ3_S, formats.IQ4_XS:
		to = formats.IQ4_NL
	case formats.Q2_K, formats.Q3_K:
		to = formats.Q4_0
		if s.rules == Rules2025 {
			to = formats.IQ4_NL
		}
	case formats.TQ1_0, formats.TQ2_0:
		to = formats.Q4_0
	case formats.Q4_K:
		to = formats.Q5_0
	case formats.Q5_K:
		to = formats.Q5_1
	case formats.Q6_K:
		to = formats.Q8_0
	default:
		return 0, "", fmt.Errorf("quant: tensor %q: row of %d is not a multiple of %v's block of %d, and llama.cpp defines no fallback for %v: %w",
			t.Name, ncols, target, qk, target, ErrInvalid)
	}
	note := fmt.Sprintf("row of %d not divisible by %d (required for %v): falling back to %v", ncols, qk, target, to)
	if ncols%int64(to.BlockSize()) != 0 {
		note = fmt.Sprintf("row of %d not divisible by %d (required for %v) nor by %d (%v): must use F16 due to unusual shape", ncols, qk, target, to.BlockSize(), to)
		to = formats.F16
	}
	return to, note, nil
}

// requiresImatrix is tensor_requires_imatrix.
func requiresImatrix(name string, dst formats.DType, ft FileType) bool {
	if isTokenEmbd(name) || name == "output.weight" {
		return false
	}
	switch dst {
	case formats.IQ3_XXS, formats.IQ2_XXS, formats.IQ2_XS, formats.IQ2_S, formats.IQ1_M, formats.IQ1_S:
		return true
	case formats.Q2_K:
		return ft == Q2_K_S
	}
	return false
}

// requiresImatrix2025 is the 2025 test of the main loop.
func requiresImatrix2025(name string, dst formats.DType, ft FileType) bool {
	switch dst {
	case formats.IQ2_XXS, formats.IQ2_XS, formats.IQ2_S, formats.IQ1_S:
		return true
	case formats.IQ1_M:
		return name != "token_embd.weight" && name != "output.weight"
	case formats.Q2_K:
		return ft == Q2_K_S && name != "token_embd.weight"
	}
	return false
}

// layerOf is llama_model_loader's weight_name_comparer key.
func layerOf(name string) int {
	if l, ok := scanLayer(name); ok {
		return l
	}
	return -1
}

// LlamaOrder returns the tensors' indices in the order llama-quantize
// processes and writes them: llama_model_loader keeps weights in a map
// sorted by layer (tensors outside blk.N come first) and then by name.
// The layer counters of the rules advance in this order.
func LlamaOrder(tensors []formats.TensorInfo) []int {
	idx := make([]int, len(tensors))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		la, lb := layerOf(tensors[a].Name), layerOf(tensors[b].Name)
		if la != lb {
			return la - lb
		}
		return strings.Compare(tensors[a].Name, tensors[b].Name)
	})
	return idx
}

// SplitOrder is the order llama-quantize --keep-split processes and writes
// the tensors of a split model in: by split, then by offset in the split.
func SplitOrder(tensors []formats.TensorInfo, splits []int) []int {
	idx := make([]int, len(tensors))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if splits[a] != splits[b] {
			return splits[a] - splits[b]
		}
		return cmp.Compare(tensors[a].Offset, tensors[b].Offset)
	})
	return idx
}

// PlanModel chooses the output type of every tensor of m. Decisions come in
// LlamaOrder, the order llama-quantize writes the tensors. It fails where
// llama-quantize would: an unknown preset, a tensor the rules cannot place,
// requantizing without AllowRequantize, a type needing an importance matrix
// without one (unless DryRun), and — stricter than llama.cpp, which falls
// back or fails later inside ggml — an explicit type (--output-tensor-type,
// --token-embedding-type, --tensor-type) whose block does not divide the
// tensor's rows.
func PlanModel(m Model, opt Options) ([]Decision, error) {
	defType, err := opt.FileType.DefaultType()
	if err != nil {
		return nil, err
	}
	for _, d := range []formats.DType{opt.OutputTensorType, opt.TokenEmbeddingType} {
		if d != formats.Invalid {
			if _, ok := d.GGML(); !ok {
				return nil, fmt.Errorf("quant: %v is not a ggml type: %w", d, ErrInvalid)
			}
		}
	}
	if opt.Rules != RulesLatest && opt.Rules != Rules2025 {
		return nil, fmt.Errorf("quant: unknown rule set %d: %w", opt.Rules, ErrInvalid)
	}
	s := &state{m: &m, opt: &opt, hasTiedEmbeddings: true, rules: opt.Rules}
	for _, tt := range opt.TensorTypes {
		re, err := regexp.Compile(tt.Pattern)
		if err != nil {
			return nil, fmt.Errorf("quant: --tensor-type %q: %v: %w", tt.Pattern, err, ErrInvalid)
		}
		if _, ok := tt.Type.GGML(); !ok {
			return nil, fmt.Errorf("quant: --tensor-type %q: %v is not a ggml type: %w", tt.Pattern, tt.Type, ErrInvalid)
		}
		s.patterns = append(s.patterns, re)
	}
	order := LlamaOrder(m.Tensors)
	if opt.KeepSplit && m.Splits != nil && len(m.Splits) == len(m.Tensors) {
		order = SplitOrder(m.Tensors, m.Splits)
	}
	// init_quantize_state_counters
	for _, i := range order {
		name := m.Tensors[i].Name
		if countsAsAttnV(name) {
			s.nAttnV++
		}
		if name == "output.weight" {
			s.hasTiedEmbeddings = false
		}
	}
	s.nFFNDown, s.nFFNGate, s.nFFNUp = m.NLayer, m.NLayer, m.NLayer

	out := make([]Decision, 0, len(m.Tensors))
	for _, i := range order {
		t := m.Tensors[i]
		d, err := s.decide(t, defType)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// checkExplicit refuses an explicitly requested type that cannot hold the
// tensor's rows.
func checkExplicit(t formats.TensorInfo, to formats.DType, flag string) error {
	qk := int64(to.BlockSize())
	if qk > 1 && ne(t.Shape, 0)%qk != 0 {
		return fmt.Errorf("quant: tensor %q: %s asks for %v, but its rows of %d are not a multiple of %v's block of %d: choose another type: %w",
			t.Name, flag, to, ne(t.Shape, 0), to, qk, ErrInvalid)
	}
	return nil
}

// decide is llama_tensor_get_type plus the main loop's checks.
func (s *state) decide(t formats.TensorInfo, defType formats.DType) (Decision, error) {
	opt := s.opt
	d := Decision{Name: t.Name, From: t.DType, To: t.DType}
	ok, why := allowsQuantization(opt, t)
	cat := s.category(t.Name)
	if s.rules == Rules2025 {
		if err := s.choose2025(&d, t, ok, why, cat, defType); err != nil {
			return d, err
		}
		return s.finish(d, t, ok)
	}
	switch {
	case !ok:
		d.Reason = "kept: " + why
	case opt.TokenEmbeddingType != formats.Invalid && cat == catTokenEmbd:
		d.To, d.Reason = opt.TokenEmbeddingType, "token embeddings: --token-embedding-type"
		if err := checkExplicit(t, d.To, "--token-embedding-type"); err != nil {
			return d, err
		}
	case opt.OutputTensorType != formats.Invalid && cat == catOutput:
		d.To, d.Reason = opt.OutputTensorType, "output.weight: --output-tensor-type"
		if err := checkExplicit(t, d.To, "--output-tensor-type"); err != nil {
			return d, err
		}
	default:
		newType := defType
		d.Reason = "default type of " + opt.FileType.String()
		if defType.IsQuantized() {
			manual := false
			for k, re := range s.patterns {
				if re.MatchString(t.Name) {
					newType = opt.TensorTypes[k].Type
					d.Reason = fmt.Sprintf("--tensor-type %s=%v", opt.TensorTypes[k].Pattern, newType)
					if err := checkExplicit(t, newType, "--tensor-type "+opt.TensorTypes[k].Pattern); err != nil {
						return d, err
					}
					manual = true
					break
				}
			}
			if !manual && !opt.Pure {
				var err error
				newType, d.Reason, err = s.getTypeImpl(newType, t, opt.FileType, cat)
				if err != nil {
					return d, err
				}
			} else if opt.Pure && !manual {
				d.Reason = "--pure: default type of " + opt.FileType.String()
			}
			to, note, err := s.fallback(t, newType)
			if err != nil {
				return d, err
			}
			if note != "" {
				d.Fallback = true
				d.Reason += "; " + note
			}
			newType = to
		}
		d.To = newType
	}
	return s.finish(d, t, ok)
}

// choose2025 is the 2025 main loop's type choice.
func (s *state) choose2025(d *Decision, t formats.TensorInfo, ok bool, why string, cat category, defType formats.DType) error {
	opt := s.opt
	if !ok {
		d.Reason = "kept: " + why
		return nil
	}
	newType := defType
	d.Reason = "default type of " + opt.FileType.String()
	if !opt.Pure && defType.IsQuantized() {
		var err error
		newType, d.Reason, err = s.getTypeImpl(newType, t, opt.FileType, cat)
		if err != nil {
			return err
		}
		to, note, err := s.fallback(t, newType)
		if err != nil {
			return err
		}
		if note != "" {
			d.Fallback = true
			d.Reason += "; " + note
		}
		newType = to
		if !d.Fallback {
			// The last matching --tensor-type wins.
			for k, re := range s.patterns {
				if re.MatchString(t.Name) {
					newType = opt.TensorTypes[k].Type
					d.Reason = fmt.Sprintf("--tensor-type %s=%v (over: %s)", opt.TensorTypes[k].Pattern, newType, d.Reason)
					if err := checkExplicit(t, newType, "--tensor-type "+opt.TensorTypes[k].Pattern); err != nil {
						return err
					}
				}
			}
		}
	} else if opt.Pure {
		d.Reason = "--pure: default type of " + opt.FileType.String()
	}
	if opt.TokenEmbeddingType != formats.Invalid && t.Name == "token_embd.weight" {
		newType, d.Reason = opt.TokenEmbeddingType, "token embeddings: --token-embedding-type"
		if err := checkExplicit(t, newType, "--token-embedding-type"); err != nil {
			return err
		}
	}
	if opt.OutputTensorType != formats.Invalid && t.Name == "output.weight" {
		newType, d.Reason = opt.OutputTensorType, "output.weight: --output-tensor-type"
		if err := checkExplicit(t, newType, "--output-tensor-type"); err != nil {
			return err
		}
	}
	d.To = newType
	return nil
}

// finish fills in the imatrix requirement and checks what llama-quantize's
// main loop checks.
func (s *state) finish(d Decision, t formats.TensorInfo, ok bool) (Decision, error) {
	opt := s.opt
	d.Quantize = d.To != d.From
	if s.rules == Rules2025 {
		d.RequiresImatrix = d.Quantize && requiresImatrix2025(t.Name, d.To, opt.FileType)
	} else if ok {
		d.RequiresImatrix = requiresImatrix(t.Name, d.To, opt.FileType)
	}
	if d.RequiresImatrix && !opt.HasImatrix && !opt.DryRun {
		return d, fmt.Errorf("quant: tensor %q: %v needs an importance matrix in %v (the result would be garbage without one): pass --imatrix: %w",
			t.Name, d.To, opt.FileType, ErrInvalid)
	}
	if d.Quantize {
		switch {
		case d.From == formats.F32, d.From == formats.F16, d.From == formats.BF16:
		case d.From.IsQuantized():
			if !opt.AllowRequantize {
				return d, fmt.Errorf("quant: tensor %q: requantizing from type %v is disabled: pass --allow-requantize (quality suffers) or start from an F32/F16/BF16 model: %w",
					t.Name, d.From, ErrInvalid)
			}
		default:
			return d, fmt.Errorf("quant: tensor %q: cannot dequantize/convert tensor type %v: %w", t.Name, d.From, ErrUnsupported)
		}
	}
	return d, nil
}
