package main

import (
	"context"
	"fmt"
	"strings"

	"mlmf/engine"
	"mlmf/tui/common"
)

// mappingSource feeds the Mapping pane from engine.MapReader.
type mappingSource struct{ rules string }

func (m mappingSource) Report(_ context.Context, c *common.Checkpoint) (*common.MappingReport, error) {
	res, err := engine.MapReader(c.Path, c.Reader, engine.MapRequest{Path: c.Path, RulesFile: m.rules, Suggest: 3})
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
	for _, ns := range res.Suggestions {
		for _, sg := range ns.Suggestions {
			sugg[ns.Name] = append(sugg[ns.Name], sg.Canonical)
		}
	}
	for _, u := range rep.Unmapped {
		out.Rows = append(out.Rows, common.MappingRow{Name: u.Name, Status: "unmapped", Suggestions: sugg[u.Name]})
	}
	for _, ms := range rep.Missing {
		out.Missing = append(out.Missing, ms.Canonical)
	}
	return out, nil
}

// previewSource feeds the Preview pane from engine.Preview.
type previewSource struct{}

func (previewSource) Targets() []string {
	return []string{"Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "F16", "BF16", "F8_E4M3", "Q4_K_M", "Q5_K_M"}
}

func (previewSource) Preview(ctx context.Context, c *common.Checkpoint, target string, progress func(engine.Progress)) ([]common.PreviewRow, error) {
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
