package mapping

import (
	"fmt"
	"sort"
	"strings"

	"mlmf/formats"
)

// DetectInput is what detection may look at; any field may be empty.
type DetectInput struct {
	// Override is an architecture the user chose (--arch, a mapping file's
	// arch); it wins over everything else when it names a known one.
	Override string
	// Config is the checkpoint's config.json.
	Config *ModelConfig
	// GGUF is a GGUF file's key-value metadata.
	GGUF map[string]any
	// Tensors are the checkpoint's tensors, for the name vote.
	Tensors []formats.TensorInfo
}

// Detection is the detected architecture with the reason and how sure it is.
type Detection struct {
	// Arch is the chosen architecture; when Ambiguous it is the first
	// candidate (the candidates map tensors identically).
	Arch string `json:"arch"`
	// Candidates are the architectures the evidence cannot tell apart,
	// best first; a single element when detection is sure.
	Candidates []string `json:"candidates"`
	Ambiguous  bool     `json:"ambiguous"`
	// Source is the evidence used: "override", "config.architectures",
	// "config.model_type", "gguf", "tensor-names" or "none".
	Source     string  `json:"source"`
	Reason     string  `json:"reason"`
	Confidence float64 `json:"confidence"`
	// Votes are the tensor-name scores per architecture when the vote ran.
	Votes []Vote `json:"votes,omitempty"`
}

// Vote is one architecture's score in the tensor-name vote.
type Vote struct {
	Arch string `json:"arch"`
	// Matched is the share of tensors its rules map or skip.
	Matched float64 `json:"matched"`
	// Missing counts required tensors it expects and does not find.
	Missing int `json:"missing"`
	// OptionalUsed counts tensors matched only by optional rules: fewer is
	// a tighter fit.
	OptionalUsed int `json:"optional_used"`
	// ShapeMismatches counts shapes that disagree with the config.
	ShapeMismatches int `json:"shape_mismatches"`
}

// Detect picks the architecture: user override, then config (architectures,
// then model_type), then GGUF general.architecture, then a vote over tensor
// names and shapes. Where the evidence cannot separate architectures (llama
// and mistral have identical tensors) it returns all candidates and sets
// Ambiguous instead of guessing.
func Detect(in DetectInput) Detection {
	if in.Override != "" {
		if a, err := Lookup(in.Override); err == nil {
			return Detection{Arch: a.Name, Candidates: []string{a.Name}, Source: "override",
				Reason: fmt.Sprintf("chosen by the user (%s)", in.Override), Confidence: 1}
		}
	}
	if c := in.Config; c != nil {
		for _, cls := range append(append([]string{}, c.Architectures...), textClasses(c)...) {
			if a := archByClass(cls); a != nil {
				return Detection{Arch: a.Name, Candidates: []string{a.Name}, Source: "config.architectures",
					Reason: fmt.Sprintf("config names the class %s", cls), Confidence: 1}
			}
		}
		for _, mt := range []string{c.ModelType, c.Effective().ModelType} {
			if mt == "" {
				continue
			}
			if a := archByModelType(mt); a != nil {
				return Detection{Arch: a.Name, Candidates: []string{a.Name}, Source: "config.model_type",
					Reason: fmt.Sprintf("config model_type is %q", mt), Confidence: 0.95}
			}
		}
	}
	if g, ok := in.GGUF["general.architecture"].(string); ok && g != "" {
		archs := archsByGGUF(g)
		if len(archs) == 1 {
			return Detection{Arch: archs[0].Name, Candidates: []string{archs[0].Name}, Source: "gguf",
				Reason: fmt.Sprintf("GGUF general.architecture is %q", g), Confidence: 0.95}
		}
		if len(archs) > 1 {
			// Several namings share the GGUF architecture (llama, mistral,
			// mixtral all write "llama"): narrow with the metadata.
			var names []string
			experts := ggufInt(in.GGUF, g+".expert_count") > 0
			for _, a := range archs {
				if strings.HasSuffix(a.Name, "_consolidated") {
					continue
				}
				if hasExperts(a) == experts {
					names = append(names, a.Name)
				}
			}
			if len(names) == 0 {
				for _, a := range archs {
					names = append(names, a.Name)
				}
			}
			sort.Strings(names)
			d := Detection{Arch: names[0], Candidates: names, Source: "gguf", Confidence: 0.9,
				Reason: fmt.Sprintf("GGUF general.architecture is %q", g)}
			if len(names) > 1 {
				d.Ambiguous = true
				d.Confidence = 0.9 / float64(len(names))
				d.Reason += fmt.Sprintf(", which %s all write", strings.Join(names, ", "))
			}
			return d
		}
	}
	if len(in.Tensors) > 0 {
		return voteOnNames(in)
	}
	return Detection{Source: "none", Reason: "no config, GGUF metadata or tensors to go on"}
}

func textClasses(c *ModelConfig) []string {
	if c.TextConfig != nil {
		return c.TextConfig.Architectures
	}
	return nil
}

func hasExperts(a *Arch) bool {
	for _, r := range a.Tensors {
		if strings.Contains(r.Canonical, "_exps") || len(r.Split) > 0 {
			return true
		}
	}
	return false
}

func voteOnNames(in DetectInput) Detection {
	var votes []Vote
	for _, a := range All() {
		m, err := NewMapper(a.Name, in.Config, nil)
		if err != nil {
			continue
		}
		rep := m.Report(in.Tensors)
		v := Vote{Arch: a.Name, Missing: rep.Summary.Missing, ShapeMismatches: rep.Summary.ShapeMismatches}
		v.Matched = float64(rep.Summary.Mapped+rep.Summary.Skipped) / float64(len(in.Tensors))
		for _, mp := range rep.Mapped {
			if optionalOnly(m, mp.HF) {
				v.OptionalUsed++
			}
		}
		// A tensor an architecture only skips fits it no better than an
		// optional one.
		v.OptionalUsed += rep.Summary.Skipped
		votes = append(votes, v)
	}
	better := func(a, b Vote) int { // <0: a better
		switch {
		case a.Matched != b.Matched:
			if a.Matched > b.Matched {
				return -1
			}
			return 1
		case a.Missing != b.Missing:
			return a.Missing - b.Missing
		case a.ShapeMismatches != b.ShapeMismatches:
			return a.ShapeMismatches - b.ShapeMismatches
		case a.OptionalUsed != b.OptionalUsed:
			return a.OptionalUsed - b.OptionalUsed
		}
		return 0
	}
	sort.SliceStable(votes, func(i, j int) bool {
		if c := better(votes[i], votes[j]); c != 0 {
			return c < 0
		}
		return votes[i].Arch < votes[j].Arch
	})
	if len(votes) == 0 || votes[0].Matched == 0 {
		return Detection{Source: "tensor-names", Votes: votes, Reason: "no architecture's rules match these tensor names"}
	}
	best := votes[0]
	var cands []string
	for _, v := range votes {
		if better(v, best) == 0 {
			cands = append(cands, v.Arch)
		}
	}
	d := Detection{Arch: cands[0], Candidates: cands, Source: "tensor-names", Votes: votes}
	conf := best.Matched
	if best.Missing > 0 {
		conf *= 0.5
	}
	if len(votes) > len(cands) {
		// Margin over the runner-up.
		next := votes[len(cands)]
		if next.Matched == best.Matched {
			conf *= 0.8
		}
	}
	d.Reason = fmt.Sprintf("%.0f%% of tensor names match %s's rules", 100*best.Matched, cands[0])
	if best.Missing > 0 {
		d.Reason += fmt.Sprintf(", %d required tensors missing", best.Missing)
	}
	if len(cands) > 1 {
		d.Ambiguous = true
		conf /= float64(len(cands))
		d.Reason = fmt.Sprintf("tensor names and shapes cannot tell %s apart (%.0f%% of names match each); pass the architecture to choose",
			strings.Join(cands, ", "), 100*best.Matched)
	}
	d.Confidence = conf
	return d
}

// optionalOnly reports whether the HF name was matched by an optional leaf.
func optionalOnly(m *Mapper, name string) bool {
	_, l, ok := m.resolve(name)
	return ok && l != nil && !l.required
}
