// Package sources connects the TUI's panes to the engine and the mapping
// package: the mapping report and fixer, and the quantization preview. The
// binary wires them into common.Deps; tests use them to drive real flows.
package sources

import (
	"context"
	"fmt"
	"strings"

	"mlmf/engine"
	"mlmf/mapping"
	"mlmf/tui/common"
)

// Mapping feeds the Mapping pane from engine.MapReader, and its fixer
// from the mapping package (rules, architectures, canonical names).
type Mapping struct {
	// RulesFile is a mapping file applied until the fixer builds its own.
	RulesFile string
}

func (m Mapping) Report(_ context.Context, c *common.Checkpoint) (*common.MappingReport, error) {
	return m.report(c, engine.MapRequest{Path: c.Path, RulesFile: m.RulesFile, Suggest: 3})
}

// ReportWith maps the checkpoint with the fixer's architecture and rules
// (an empty fix falls back to the rules file the TUI was started with).
func (m Mapping) ReportWith(_ context.Context, c *common.Checkpoint, fix common.MappingFix) (*common.MappingReport, error) {
	if fix.Empty() {
		return m.report(c, engine.MapRequest{Path: c.Path, RulesFile: m.RulesFile, Suggest: 3})
	}
	rules, err := toRules(fix, "mapping fixer")
	if err != nil {
		return nil, err
	}
	return m.report(c, engine.MapRequest{Path: c.Path, Arch: fix.Arch, Rules: rules, Suggest: 3})
}

func (Mapping) Archs() []string { return mapping.Names() }

func (Mapping) Canonicals(arch string) []string {
	a, err := mapping.Lookup(arch)
	if err != nil {
		return nil
	}
	return a.CanonicalNames()
}

func (Mapping) Rule(arch, name, canonical string) (common.MappingRule, error) {
	a, err := mapping.Lookup(arch)
	if err != nil {
		return common.MappingRule{}, err
	}
	u, err := a.RuleFor(name, canonical)
	if err != nil {
		return common.MappingRule{}, err
	}
	return fromRule(u), nil
}

func (Mapping) SaveRules(path string, fix common.MappingFix) error {
	rules, err := toRules(fix, path)
	if err != nil {
		return err
	}
	return mapping.SaveRules(path, rules)
}

func (Mapping) LoadRules(path string) (common.MappingFix, error) {
	r, err := mapping.LoadRules(path)
	if err != nil {
		return common.MappingFix{}, err
	}
	fix := common.MappingFix{Arch: r.Arch, Skip: r.Skip}
	for _, u := range r.Rules {
		fix.Rules = append(fix.Rules, fromRule(u))
	}
	return fix, nil
}

var _ common.MappingFixer = Mapping{}

func toRules(fix common.MappingFix, source string) (*mapping.Rules, error) {
	return fix.MappingRules(source)
}

func fromRule(u mapping.UserRule) common.MappingRule {
	return common.MappingRule{HF: u.HF, Match: u.Match, Canonical: u.Canonical, Transform: u.Transform, TransformArg: u.TransformArg}
}

func (Mapping) report(c *common.Checkpoint, req engine.MapRequest) (*common.MappingReport, error) {
	res, err := engine.MapReader(c.Path, c.Reader, req)
	if err != nil {
		return nil, err
	}
	d := res.Detection
	out := &common.MappingReport{Architecture: d.Arch, Reason: d.Reason}
	if d.Ambiguous {
		out.Reason += " (candidates: " + strings.Join(d.Candidates, ", ") + ")"
	}
	rep := res.Report
	mismatch := map[string]string{}
	for _, sm := range rep.ShapeMismatches {
		mismatch[sm.HF] = fmt.Sprintf("%v, config implies %v", sm.Shape, sm.Expected)
	}
	for _, mp := range rep.Mapped {
		status := "mapped"
		if _, ok := mismatch[mp.HF]; ok {
			status = "mismatch"
		}
		out.Rows = append(out.Rows, common.MappingRow{Name: mp.HF, Canonical: mp.Canonical, Status: status})
	}
	sugg := map[string][]string{}
	fixes := map[string][]common.MappingRule{}
	for _, ns := range res.Suggestions {
		for _, sg := range ns.Suggestions {
			sugg[ns.Name] = append(sugg[ns.Name], sg.Canonical)
			fixes[ns.Name] = append(fixes[ns.Name], fromRule(sg.Rule))
		}
	}
	for _, u := range rep.Unmapped {
		out.Rows = append(out.Rows, common.MappingRow{Name: u.Name, Status: "unmapped", Suggestions: sugg[u.Name], Fixes: fixes[u.Name]})
	}
	for _, ms := range rep.Missing {
		out.Missing = append(out.Missing, ms.Canonical)
	}
	return out, nil
}

// Preview feeds the Preview pane from engine.Preview.
type Preview struct{}

func (Preview) Targets() []string {
	return []string{"Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "F16", "BF16", "F8_E4M3", "Q4_K_M", "Q5_K_M"}
}

func (Preview) Preview(ctx context.Context, c *common.Checkpoint, target string, progress func(engine.Progress)) ([]common.PreviewRow, error) {
	res, err := engine.Preview(ctx, engine.PreviewRequest{Path: c.Path, Target: target}, progress)
	if err != nil {
		return nil, err
	}
	rows := make([]common.PreviewRow, len(res.Rows))
	for i, r := range res.Rows {
		rows[i] = common.PreviewRow{Name: r.Name, From: r.FromName, To: r.ToName, RMSE: r.RMSE, MaxAbs: r.MaxAbs,
			SNR: r.SNR, Cos: r.Cosine, BytesBefore: r.BytesBefore, BytesAft: r.BytesAfter}
	}
	return rows, nil
}
