// Command mapcheck is the bridge the interop tests use to reach the mapping
// package from Python: it reads a JSON list of tensors ({name, shape}) on
// stdin and prints the detection, the mapping report and the reverse map as
// JSON.
//
//	mapcheck [-config config.json] [-gguf-kv kv.json] [-arch NAME] [-rules rules.yaml] [-suggest] < tensors.json
//
// -gguf-kv takes a JSON object of GGUF key-values; with it and no -config,
// the config is derived from the metadata. Names only: pass neither.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"mlmf/formats"
	"mlmf/mapping"
)

type tensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
}

type output struct {
	Detection   mapping.Detection         `json:"detection"`
	Report      *mapping.Report           `json:"report,omitempty"`
	Reverse     map[string][]string       `json:"reverse,omitempty"`
	ToHF        map[string][]string       `json:"to_hf,omitempty"`
	Suggestions []mapping.NameSuggestions `json:"suggestions,omitempty"`
	Config      json.RawMessage           `json:"config,omitempty"`
	Plan        []mapping.PlanTensor      `json:"plan,omitempty"`
	Vars        map[string]int64          `json:"vars,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mapcheck:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "", "config.json to read")
	kvPath := flag.String("gguf-kv", "", "JSON object of GGUF key-values")
	arch := flag.String("arch", "", "architecture override")
	rulesPath := flag.String("rules", "", "user mapping file")
	suggest := flag.Bool("suggest", false, "suggest names for unmapped tensors")
	flag.Parse()

	data, err := io.ReadAll(io.LimitReader(os.Stdin, 256<<20))
	if err != nil {
		return err
	}
	var ts []tensor
	if err := json.Unmarshal(data, &ts); err != nil {
		return fmt.Errorf("stdin: want a JSON list of {name, shape}: %w", err)
	}
	infos := make([]formats.TensorInfo, len(ts))
	for i, t := range ts {
		infos[i] = formats.TensorInfo{Name: t.Name, Shape: t.Shape}
	}

	var cfg, fileCfg *mapping.ModelConfig
	var kv map[string]any
	if *configPath != "" {
		if cfg, err = mapping.LoadConfig(*configPath); err != nil {
			return err
		}
		fileCfg = cfg
	}
	if *kvPath != "" {
		b, err := os.ReadFile(*kvPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &kv); err != nil {
			return fmt.Errorf("%s: %w", *kvPath, err)
		}
		if cfg == nil {
			// Derived from the metadata: used for shapes, not as evidence
			// for detection (it names the first architecture of a shared
			// GGUF architecture).
			if cfg, err = mapping.ConfigFromGGUF(kv); err != nil {
				return err
			}
		}
	}
	var rules *mapping.Rules
	if *rulesPath != "" {
		if rules, err = mapping.LoadRules(*rulesPath); err != nil {
			return err
		}
	}
	override := *arch
	if override == "" && rules != nil {
		override = rules.Arch
	}
	out := output{Detection: mapping.Detect(mapping.DetectInput{Override: override, Config: fileCfg, GGUF: kv, Tensors: infos})}
	if cfg != nil {
		if out.Config, err = cfg.MarshalJSON(); err != nil {
			return err
		}
		out.Vars = mapping.ShapeVars(cfg)
	}
	if out.Detection.Arch != "" {
		m, err := mapping.NewMapper(out.Detection.Arch, cfg, rules)
		if err != nil {
			return err
		}
		out.Report = m.Report(infos)
		out.Plan = out.Report.Plan()
		out.Reverse = map[string][]string{}
		out.ToHF = map[string][]string{}
		for _, c := range out.Report.Canonicals() {
			out.Reverse[c] = out.Report.HFNames(c)
			if names, ok := m.ToHF(c); ok {
				out.ToHF[c] = names
			}
		}
		if *suggest {
			out.Suggestions = m.Suggest(infos, 3)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}
