package engine

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// CardInfo is what a model card says about a conversion besides the
// provenance.
type CardInfo struct {
	// From names the source format ("safetensors", "gguf") and SourceType
	// its weights' type ("BF16", "Q8_0", "mixed").
	From, SourceType string
	// DType is the dtype the export wrote.
	DType string
	// Arch is the architecture (registry name); Class the transformers class.
	Arch, Class string
	Tensors     int
	Bytes       int64
	// Dequantized says quantized source tensors were decoded.
	Dequantized bool
}

// cardMeta is the Hub's model card metadata, in the order the Hub's own
// cards put it.
type cardMeta struct {
	BaseModel         string   `yaml:"base_model,omitempty"`
	BaseModelRelation string   `yaml:"base_model_relation,omitempty"`
	License           string   `yaml:"license,omitempty"`
	LicenseName       string   `yaml:"license_name,omitempty"`
	LicenseLink       string   `yaml:"license_link,omitempty"`
	Language          []string `yaml:"language,omitempty"`
	LibraryName       string   `yaml:"library_name"`
	PipelineTag       string   `yaml:"pipeline_tag,omitempty"`
	Tags              []string `yaml:"tags"`
}

// ModelCard renders README.md for an exported model: Hub front matter
// (base_model — the source repository when known —, base_model_relation,
// license, library_name: transformers, pipeline_tag, tags) and a short body
// listing the source files with their sha256 and the options.
//
// The Hub knows four relations (adapter, merge, quantized, finetune); a
// format conversion is a re-encoding of the same weights, which the Hub
// files under "quantized" (it infers the same for GGUF repositories), so
// that is the relation written whenever base_model is.
func ModelCard(p *Provenance, info CardInfo) ([]byte, error) {
	m := cardMeta{LibraryName: "transformers", License: p.License, LicenseName: p.LicenseName, LicenseLink: p.LicenseLink,
		Language: p.Languages}
	if p.RepoID != "" {
		m.BaseModel, m.BaseModelRelation = p.RepoID, "quantized"
	}
	if strings.HasSuffix(info.Class, "ForCausalLM") {
		m.PipelineTag = "text-generation"
	}
	tags := []string{"mlmf"}
	if info.From == "gguf" {
		tags = append(tags, "gguf-to-hf")
	}
	if info.Arch != "" {
		tags = append(tags, info.Arch)
	}
	for _, t := range p.Tags {
		if !slices.Contains(tags, t) && t != "gguf" {
			tags = append(tags, t)
		}
	}
	m.Tags = tags
	var b bytes.Buffer
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("model card: %w", err)
	}
	enc.Close()
	b.WriteString("---\n\n")
	title := p.Name
	if title == "" {
		title = "Converted model"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	src := "a " + info.From + " checkpoint"
	if p.RepoID != "" {
		src = fmt.Sprintf("[%s](%s%s) (%s)", p.RepoID, hubURL, p.RepoID, info.From)
	}
	fmt.Fprintf(&b, "Converted by mlmf %s from %s", p.Tool, src)
	if info.SourceType != "" {
		fmt.Fprintf(&b, " with %s weights", info.SourceType)
	}
	fmt.Fprintf(&b, " to Hugging Face safetensors in %s: %d tensors, %s.\n", info.DType, info.Tensors, humanSize(info.Bytes))
	if info.Dequantized {
		then := ""
		if info.DType != "float32" {
			then = ", then cast to " + info.DType
		}
		fmt.Fprintf(&b, "\nQuantized tensors were dequantized to F32 exactly as ggml does%s: the weights carry the quantization error of the GGUF.\n", then)
	}
	if len(p.BaseModels) > 0 {
		b.WriteString("\nBase models of the source:\n\n")
		for _, bm := range p.BaseModels {
			name := strings.TrimSpace(bm.Organization + " " + bm.Name)
			if bm.RepoURL != "" {
				fmt.Fprintf(&b, "- [%s](%s)\n", name, bm.RepoURL)
			} else {
				fmt.Fprintf(&b, "- %s\n", name)
			}
		}
	}
	if len(p.Files) > 0 {
		b.WriteString("\n## Provenance\n\n| source file | bytes | sha256 |\n|---|---:|---|\n")
		for _, f := range p.Files {
			fmt.Fprintf(&b, "| %s | %d | `%s` |\n", f.Name, f.Size, f.SHA256)
		}
	}
	if o := p.optionString(); o != "" {
		fmt.Fprintf(&b, "\nOptions: `%s`\n", o)
	}
	b.WriteString("\nThe same information is in provenance.json and in the safetensors metadata (mlmf.*).\n")
	return b.Bytes(), nil
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
