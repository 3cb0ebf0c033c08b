package engine

import (
	"fmt"
	"strings"

	"mlmf/formats"
	"mlmf/mapping"
)

// canonicalView is a checkpoint seen through the mapping: its architecture,
// the mapping report and, for every tensor, the canonical (GGUF) name it
// stands for. Hugging Face checkpoints are mapped name by name; GGUF files
// already use canonical names, so they are mapped back to the HF names the
// architecture expects and reported on those, which checks the same
// structure (missing tensors, unknown names, shapes against the metadata).
type canonicalView struct {
	path   string
	r      formats.Reader
	gguf   bool
	det    mapping.Detection
	cfg    *mapping.ModelConfig
	mapper *mapping.Mapper // nil when no architecture was detected
	report *mapping.Report // nil when no architecture was detected
	vars   map[string]int64
	// configErr is why the config could not be read ("" when it was).
	configErr string
	// keys holds each tensor's canonical key by its stored name: the
	// canonical name, "name#x" for expert x of a stacked tensor, or the
	// stored name itself when the mapping does not know it.
	keys map[string]string
	// transforms are the export transforms between HF layout and the
	// stored layout of GGUF tensors, by stored name; HF tensors are stored
	// in HF layout and have none.
	transforms map[string]*mapping.Transform
}

// newCanonicalView maps the opened checkpoint r (path locates config.json).
// arch overrides detection. Failing to detect an architecture is not an
// error: the view then keys tensors by their stored names.
func newCanonicalView(path string, r formats.Reader, arch string) (*canonicalView, error) {
	v := &canonicalView{path: path, r: r, gguf: r.Format() == "gguf", keys: map[string]string{}, transforms: map[string]*mapping.Transform{}}
	in := mapping.DetectInput{Override: arch, Tensors: r.Tensors()}
	if v.gguf {
		in.GGUF = r.Metadata()
		cfg, err := mapping.ConfigFromGGUF(in.GGUF)
		if err != nil {
			v.configErr = err.Error()
		} else {
			v.cfg = cfg
		}
		// The name vote needs HF names; a GGUF has metadata instead.
		in.Tensors = nil
	} else if p := configBeside(path); p != "" {
		cfg, err := mapping.LoadConfig(p)
		if err != nil {
			v.configErr = err.Error()
		} else {
			v.cfg = cfg
		}
	}
	in.Config = v.cfg
	v.det = mapping.Detect(in)
	v.vars = mapping.ShapeVars(v.cfg)
	for _, t := range r.Tensors() {
		v.keys[t.Name] = t.Name
	}
	if v.det.Arch == "" {
		return v, nil
	}
	m, err := mapping.NewMapper(v.det.Arch, v.cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v.mapper = m
	if v.gguf {
		v.report = v.mapGGUF()
		return v, nil
	}
	v.report = m.Report(r.Tensors())
	for _, mp := range v.report.Mapped {
		key := mp.Canonical
		switch {
		case mp.Expert != nil:
			key = fmt.Sprintf("%s#%d", mp.Canonical, *mp.Expert)
		case len(mp.Parts) > 1:
			key = strings.Join(mp.Parts, "+")
		}
		v.keys[mp.HF] = key
	}
	return v, nil
}

// mapGGUF reports a GGUF file's structure: every canonical tensor is turned
// back into the HF tensor(s) the architecture makes it from, with the HF
// shape, and the mapper reports on those. Names the architecture does not
// know come out as unmapped under their GGUF names.
func (v *canonicalView) mapGGUF() *mapping.Report {
	var hf []formats.TensorInfo
	seen := map[string]bool{}
	back := map[string]string{} // HF name → GGUF name, for the report
	for _, t := range v.r.Tensors() {
		names, ok := v.mapper.ToHF(t.Name)
		if !ok || len(names) == 0 {
			hf = append(hf, t)
			continue
		}
		mp, _ := v.mapper.ToCanonical(names[0])
		shape := append([]int64(nil), t.Shape...)
		switch {
		case len(names) > 1 && len(shape) > 0 && int64(len(names)) == shape[0]:
			shape = shape[1:] // stacked experts: each HF tensor is one slice
		case len(mp.Parts) > 1:
			shape = nil // one part of a fused HF tensor: the fused shape is unknown
		case mp.Transform != nil && mp.Transform.Op == mapping.OpTranspose && len(shape) == 2:
			shape[0], shape[1] = shape[1], shape[0]
		}
		if len(names) == 1 && mp.Transform != nil {
			tr := *mp.Transform
			v.transforms[t.Name] = &tr
		}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			back[n] = t.Name
			hf = append(hf, formats.TensorInfo{Name: n, DType: t.DType, Shape: shape})
		}
	}
	rep := v.mapper.Report(hf)
	// Name the tensors as the file does.
	for i, u := range rep.Unmapped {
		if g, ok := back[u.Name]; ok {
			rep.Unmapped[i].Name = g
		}
	}
	for i, s := range rep.ShapeMismatches {
		if g, ok := back[s.HF]; ok {
			rep.ShapeMismatches[i].HF = g + " (as " + s.HF + ")"
		}
	}
	return rep
}

// structureProblems lists what the mapping report finds wrong, one line each.
func structureProblems(rep *mapping.Report) []string {
	if rep == nil {
		return nil
	}
	var out []string
	for _, u := range rep.Unmapped {
		s := fmt.Sprintf("unmapped tensor %q %v", u.Name, u.Shape)
		if u.Reason != "" {
			s += ": " + u.Reason
		}
		out = append(out, s)
	}
	for _, mi := range rep.Missing {
		s := fmt.Sprintf("missing tensor %s", mi.Canonical)
		if mi.Expert != nil {
			s += fmt.Sprintf(" (expert %d)", *mi.Expert)
		}
		if mi.HF != "" {
			s += fmt.Sprintf(" (expected as %s)", mi.HF)
		}
		out = append(out, s)
	}
	for _, s := range rep.ShapeMismatches {
		out = append(out, fmt.Sprintf("shape mismatch: %s (%s) is %v, the config implies %v", s.HF, s.Canonical, s.Shape, s.Expected))
	}
	for _, c := range rep.Collisions {
		out = append(out, fmt.Sprintf("collision: %s is claimed by %s", c.Canonical, strings.Join(c.HF, ", ")))
	}
	return out
}
