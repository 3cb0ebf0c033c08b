package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mlmf/formats"
	"mlmf/mapping"
)

// MapRequest is `mlmf map PATH [--arch A] [--rules FILE] [--suggest]`.
type MapRequest struct {
	Path string
	// Arch overrides detection; RulesFile adds a user mapping file.
	Arch      string
	RulesFile string
	// Rules, when set, are used instead of RulesFile (the TUI's mapping
	// fixer keeps the rules it is building in memory).
	Rules *mapping.Rules
	// Suggest asks for up to this many suggestions per unmapped tensor.
	Suggest int
}

// MapResult is the detection, the mapping report and the suggestions.
type MapResult struct {
	Detection   mapping.Detection         `json:"detection"`
	Report      *mapping.Report           `json:"report"`
	Suggestions []mapping.NameSuggestions `json:"suggestions,omitempty"`
}

// Map detects the architecture of a checkpoint and maps its tensor names
// to llama.cpp's canonical names. The config comes from config.json beside
// the checkpoint, or from GGUF metadata.
func Map(req MapRequest) (*MapResult, error) {
	path := req.Path
	if strings.HasPrefix(path, formats.HFScheme) {
		p, err := formats.ResolveHF(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	r, err := formats.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return MapReader(path, r, req)
}

// MapReader is Map over an already opened checkpoint (path locates its
// config.json).
func MapReader(path string, r formats.Reader, req MapRequest) (*MapResult, error) {
	var err error
	in := mapping.DetectInput{Override: req.Arch, Tensors: r.Tensors()}
	var cfg *mapping.ModelConfig
	if cfgPath := configBeside(path); cfgPath != "" {
		if cfg, err = mapping.LoadConfig(cfgPath); err != nil {
			return nil, err
		}
	} else if r.Format() == "gguf" {
		in.GGUF = r.Metadata()
		if cfg, err = mapping.ConfigFromGGUF(in.GGUF); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	in.Config = cfg
	rules := req.Rules
	if rules == nil && req.RulesFile != "" {
		if rules, err = mapping.LoadRules(req.RulesFile); err != nil {
			return nil, err
		}
	}
	if rules != nil && in.Override == "" {
		in.Override = rules.Arch
	}
	det := mapping.Detect(in)
	if det.Arch == "" {
		return &MapResult{Detection: det}, fmt.Errorf("%s: architecture not detected: %s (choose one with --arch; known: %s)",
			req.Path, det.Reason, strings.Join(mapping.Names(), ", "))
	}
	m, err := mapping.NewMapper(det.Arch, cfg, rules)
	if err != nil {
		return nil, err
	}
	res := &MapResult{Detection: det, Report: m.Report(in.Tensors)}
	if req.Suggest > 0 && len(res.Report.Unmapped) > 0 {
		res.Suggestions = m.Suggest(in.Tensors, req.Suggest)
	}
	return res, nil
}

// configBeside returns the config.json of a checkpoint directory or of the
// directory holding a checkpoint file, or "".
func configBeside(path string) string {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	p := filepath.Join(dir, "config.json")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
