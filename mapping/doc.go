// Package mapping knows model architectures as data: it reads model configs
// (config.json with the aliases model families use, GGUF metadata), detects the
// architecture of a checkpoint with a stated reason and confidence, maps every
// tensor name between Hugging Face naming and the canonical names llama.cpp
// uses in GGUF files (blk.{bid}.attn_q.weight), reports what it cannot map,
// loads and saves user mapping files, and suggests canonical names for tensors
// it does not know.
//
// The entry points, in the order a caller uses them:
//
//	cfg, _ := mapping.LoadConfig("config.json")     // or ConfigFromGGUF(kv)
//	det := mapping.Detect(mapping.DetectInput{Config: cfg, Tensors: infos})
//	rules, _ := mapping.LoadRules("rules.yaml")     // optional
//	m, _ := mapping.NewMapper(det.Arch, cfg, rules)
//	rep := m.Report(infos)                           // mapped, unmapped, missing …
//	sugg := m.Suggest(infos, 3)                      // for rep.Unmapped
//
// Architecture knowledge lives in one file per architecture (arch_*.go), each
// registering an Arch value: HF class names and model_type, config defaults,
// tensor rules with {bid}/{xid} templates, expected shapes written as
// expressions over config fields, export transforms and dtype hints.
package mapping
