package mapping

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Arch is one architecture, described as data: how to recognise it, the
// defaults of its config, and the rules that map its tensors between Hugging
// Face names and canonical (llama.cpp GGUF) names.
type Arch struct {
	// Name is the registry key, spelled like transformers' model_type
	// ("llama", "gpt_neox", "qwen2_moe"); naming variants add a suffix
	// ("llama_consolidated").
	Name string
	// GGUFArch is general.architecture in GGUF files ("llama", "gptneox").
	GGUFArch string
	// HFClasses are the transformers class names in config.json architectures.
	HFClasses []string
	// ModelTypes are the config.json model_type values.
	ModelTypes []string
	// Defaults are config values transformers assumes when config.json omits
	// them, under canonical config.json keys (see ModelConfig).
	Defaults map[string]any
	// Tensors are the name rules.
	Tensors []TensorRule
	// Skip lists HF name templates that converters drop on purpose
	// (non-persistent buffers, tied copies, poolers); they are reported as
	// skipped, not unmapped.
	Skip []string
	// WrapPrefixes are wrapper prefixes ("bert.", "model.") that task heads
	// put in front of the base model's names; they are stripped before
	// matching and put back by Report's reverse map.
	WrapPrefixes []string
	// ImpliedPrefix is a prefix the HF templates carry ("transformer.") that
	// checkpoints of the bare base model lack; names without it are matched
	// as if they had it.
	ImpliedPrefix string
	// Note says in a line what sets this architecture apart.
	Note string

	once     sync.Once
	compiled *compiledArch
	err      error
}

// TensorRule maps one HF module to one canonical tensor (or several, for a
// fused tensor that export splits). Templates use {bid} for the block index
// and {xid} for the expert (or head) index; the .weight/.bias suffixes are
// added by the rule.
type TensorRule struct {
	// Canonical is the GGUF name template without suffix ("blk.{bid}.attn_q").
	Canonical string `json:"canonical,omitempty" yaml:"canonical,omitempty"`
	// HF are the Hugging Face templates without suffix; HF[0] is the one the
	// reverse map writes when the checkpoint did not say which it used.
	HF []string `json:"hf" yaml:"hf"`
	// Shape is the HF weight shape as comma-separated expressions over config
	// variables ("n_head*head_dim, n_embd"); empty means unchecked. For
	// {xid} rules it is the shape of one expert.
	Shape string `json:"shape,omitempty" yaml:"shape,omitempty"`
	// Optional marks a weight a valid checkpoint may lack (tied output,
	// optional norms).
	Optional bool `json:"optional,omitempty" yaml:"optional,omitempty"`
	// Bias says whether a .bias tensor goes with the weight.
	Bias Presence `json:"bias,omitempty" yaml:"bias,omitempty"`
	// BiasShape overrides the bias shape (default: the first weight dim).
	BiasShape string `json:"bias_shape,omitempty" yaml:"bias_shape,omitempty"`
	// Bare marks HF parameters without a .weight suffix (transformers 5 fused
	// experts, DeepSeek's e_score_correction_bias); BareSuffix is the
	// canonical suffix they get ("weight" unless set).
	Bare       bool   `json:"bare,omitempty" yaml:"bare,omitempty"`
	BareSuffix string `json:"bare_suffix,omitempty" yaml:"bare_suffix,omitempty"`
	// Split lists the canonical templates a fused HF tensor is cut into,
	// in order, along SplitAxis of the HF tensor (Canonical is unused then).
	Split     []string `json:"split,omitempty" yaml:"split,omitempty"`
	SplitAxis int      `json:"split_axis,omitempty" yaml:"split_axis,omitempty"`
	// Transform is what a GGUF export does to the data besides renaming.
	Transform Transform `json:"transform,omitzero" yaml:"transform,omitempty"`
	// DType is the dtype policy hint for quantization presets.
	DType DTypeHint `json:"dtype,omitempty" yaml:"dtype,omitempty"`
	// Blocks names the config variable holding the block count for {bid}
	// ("n_layer" when empty; T5's decoder uses "n_layer_dec").
	Blocks string `json:"blocks,omitempty" yaml:"blocks,omitempty"`
	// Count names the config variable holding the {xid} count ("n_expert"
	// when empty).
	Count string `json:"count,omitempty" yaml:"count,omitempty"`
	// Tied marks the output projection: when the config sets
	// tie_word_embeddings it duplicates the embedding, and exports drop it
	// (llama.cpp falls back to token_embd).
	Tied bool `json:"tied,omitempty" yaml:"tied,omitempty"`
}

// Presence says whether a tensor must, may or must not exist.
type Presence string

const (
	Absent   Presence = ""
	Optional Presence = "optional"
	Required Presence = "required"
)

// Transform is a data transformation a GGUF export applies to a tensor, as
// data: the operation and its argument (a config variable).
type Transform struct {
	Op  string `json:"op" yaml:"op"`
	Arg string `json:"arg,omitempty" yaml:"arg,omitempty"`
}

// Transform operations.
const (
	// OpPermuteQK reorders the rows of a LLaMA-family Q or K projection from
	// HF's rotate-half layout to llama.cpp's interleaved rotary layout; Arg is
	// the head count (n_head for Q, n_head_kv for K).
	OpPermuteQK = "permute_qk"
	// OpNormPlusOne adds 1 to a Gemma RMSNorm weight (HF stores w-1).
	OpNormPlusOne = "norm_plus_one"
	// OpStackExperts stacks the per-expert tensors ({xid}) of a block into
	// one [n_expert, …] tensor.
	OpStackExperts = "stack_experts"
	// OpSplit cuts a fused tensor into the Split parts along SplitAxis.
	OpSplit = "split"
	// OpTranspose transposes a GPT-2 Conv1D weight ([in, out] → [out, in]).
	OpTranspose = "transpose"
	// OpSplitKVB cuts DeepSeek's kv_b_proj [n_head*(qk_nope+v_head),
	// kv_lora_rank] into attn_k_b [n_head, kv_lora_rank, qk_nope] (transposed
	// per head) and attn_v_b [n_head, v_head, kv_lora_rank].
	OpSplitKVB = "split_kv_b"
	// OpRegroupQKV reorders a fused per-head-interleaved QKV (GPT-NeoX, Falcon
	// new decoder) into contiguous Q, K, V blocks; Arg names the layout.
	OpRegroupQKV = "regroup_qkv"
)

// DTypeHint is what quantization presets may do with a tensor.
type DTypeHint string

const (
	// DTypeQuant: quantize with the preset's type (the default).
	DTypeQuant DTypeHint = ""
	// DTypeF32: keep in F32 (norms, biases, routers, 1-D tensors).
	DTypeF32 DTypeHint = "f32"
	// DTypeHigh: quantize with a higher-precision type than the rest
	// (embeddings and output, as Q4_K_M uses Q6_K for output).
	DTypeHigh DTypeHint = "high"
)

// Rule constructors used by the arch_*.go tables.

// lin is a projection weight.
func lin(canon, shape string, hf ...string) TensorRule {
	return TensorRule{Canonical: canon, HF: hf, Shape: shape}
}

// norm is a normalisation weight, kept in F32.
func norm(canon, shape string, hf ...string) TensorRule {
	return TensorRule{Canonical: canon, HF: hf, Shape: shape, DType: DTypeF32}
}

// emb is an embedding or output matrix, quantized with a higher type.
func emb(canon, shape string, hf ...string) TensorRule {
	return TensorRule{Canonical: canon, HF: hf, Shape: shape, DType: DTypeHigh}
}

func (r TensorRule) opt() TensorRule       { r.Optional = true; return r }
func (r TensorRule) bias() TensorRule      { r.Bias = Required; return r }
func (r TensorRule) optBias() TensorRule   { r.Bias = Optional; return r }
func (r TensorRule) f32() TensorRule       { r.DType = DTypeF32; return r }
func (r TensorRule) plusOne() TensorRule   { r.Transform = Transform{Op: OpNormPlusOne}; return r }
func (r TensorRule) transpose() TensorRule { r.Transform = Transform{Op: OpTranspose}; return r }
func (r TensorRule) permute(heads string) TensorRule {
	r.Transform = Transform{Op: OpPermuteQK, Arg: heads}
	return r
}
func (r TensorRule) regroup(layout string) TensorRule {
	r.Transform = Transform{Op: OpRegroupQKV, Arg: layout}
	return r
}
func (r TensorRule) blocks(v string) TensorRule { r.Blocks = v; return r }
func (r TensorRule) tied() TensorRule           { r.Tied = true; return r }
func (r TensorRule) bare(suffix string) TensorRule {
	r.Bare = true
	r.BareSuffix = suffix
	return r
}

// experts is a per-expert projection ({xid} in the HF template) stacked into
// one canonical tensor on export.
func experts(canon, shape string, hf ...string) TensorRule {
	return TensorRule{Canonical: canon, HF: hf, Shape: shape, Transform: Transform{Op: OpStackExperts}}
}

// fusedExperts is a transformers 5 fused expert parameter ([n_expert, …],
// no .weight suffix) split into the given canonical tensors along axis 1.
func fusedExperts(shape string, hf string, parts ...string) TensorRule {
	r := TensorRule{HF: []string{hf}, Shape: shape, Bare: true}
	if len(parts) == 1 {
		r.Canonical = parts[0]
		return r
	}
	r.Split = parts
	r.SplitAxis = 1
	r.Transform = Transform{Op: OpSplit}
	return r
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Arch{}
)

// Register adds an architecture to the registry. It is called from init by
// the arch_*.go files; registering a name twice is a programming error and
// panics.
func Register(a *Arch) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[a.Name]; dup {
		panic("mapping: architecture " + a.Name + " registered twice")
	}
	registry[a.Name] = a
}

// Lookup returns the registered architecture with that name (a registry name,
// an HF class name or a model_type).
func Lookup(name string) (*Arch, error) {
	registryMu.RLock()
	a := registry[name]
	registryMu.RUnlock()
	if a == nil {
		a = archByClass(name)
	}
	if a == nil {
		a = archByModelType(name)
	}
	if a == nil {
		return nil, fmt.Errorf("mapping: %q: %w (known: %s)", name, ErrUnknownArch, strings.Join(Names(), ", "))
	}
	return a, nil
}

// Names lists the registered architectures, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All returns the registered architectures sorted by name.
func All() []*Arch {
	names := Names()
	out := make([]*Arch, 0, len(names))
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, n := range names {
		out = append(out, registry[n])
	}
	return out
}

func archByClass(cls string) *Arch {
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, n := range sortedKeys(registry) {
		for _, c := range registry[n].HFClasses {
			if c == cls {
				return registry[n]
			}
		}
	}
	return nil
}

func archByModelType(mt string) *Arch {
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, n := range sortedKeys(registry) {
		for _, t := range registry[n].ModelTypes {
			if t == mt {
				return registry[n]
			}
		}
	}
	return nil
}

func archsByGGUF(g string) []*Arch {
	var out []*Arch
	for _, a := range All() {
		if a.GGUFArch == g {
			out = append(out, a)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
