package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
)

// Load opens a checkpoint and gathers what the panes show: the engine's
// summary and the metadata to browse (the reader's keys and config.json).
// It does all the IO of opening and runs inside a command.
func Load(ctx context.Context, path string, mapping common.MappingSource) (*common.Checkpoint, error) {
	start := time.Now()
	r, err := formats.Open(path)
	if err != nil {
		return nil, err
	}
	sum, err := engine.Inspect(ctx, path, r, engine.InspectOptions{})
	if err != nil {
		r.Close()
		return nil, err
	}
	cp := &common.Checkpoint{Path: path, Reader: r, Summary: sum, Infos: r.Tensors()}
	for k, v := range r.Metadata() {
		kv := common.KV{Source: r.Format(), Key: k, Value: valueString(v)}
		if r.Format() == "gguf" {
			kv.Type = engine.MetaEditType(v)
		}
		cp.Meta = append(cp.Meta, kv)
	}
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil && len(b) < 16<<20 {
		var cfg map[string]any
		if json.Unmarshal(b, &cfg) == nil {
			for k, v := range flatten("", cfg) {
				cp.Meta = append(cp.Meta, common.KV{Source: "config.json", Key: k, Value: v})
			}
		}
	}
	sort.Slice(cp.Meta, func(i, j int) bool {
		if cp.Meta[i].Source != cp.Meta[j].Source {
			return cp.Meta[i].Source > cp.Meta[j].Source // the format's keys before config.json
		}
		return cp.Meta[i].Key < cp.Meta[j].Key
	})
	if r.Format() == "gguf" {
		_, cp.Vocab = r.Metadata()["tokenizer.ggml.model"]
	} else {
		cp.Vocab = engine.HasVocab(path)
	}
	if mapping != nil {
		cp.Mapping, cp.MappingErr = mapping.Report(ctx, cp)
		if cp.Mapping != nil {
			cp.Canonical = cp.CanonicalNames(cp.Mapping)
		}
	}
	cp.Opened = time.Since(start)
	return cp, nil
}

func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 4096 {
		s = s[:4096] + "…"
	}
	return s
}

// flatten turns nested config objects into dotted keys.
func flatten(prefix string, m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			for sk, sv := range flatten(key, sub) {
				out[sk] = sv
			}
			continue
		}
		out[key] = strings.TrimSpace(valueString(v))
	}
	return out
}
