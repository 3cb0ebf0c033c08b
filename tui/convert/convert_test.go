package convert

import (
	"strings"
	"testing"

	"mlmf/engine"
	"mlmf/formats"
	"mlmf/tui/common"
	"mlmf/tui/keymap"
	"mlmf/tui/styles"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"5GB", 5e9, true}, {"2GiB", 2 << 30, true}, {"500 mb", 500e6, true},
		{"1024", 1024, true}, {"-1GB", 0, false}, {"lots", 0, false}, {"1e300GB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func form(t *testing.T) *Model {
	c := &common.Common{Styles: styles.Default(), Keys: keymap.Default()}
	m := New(c)
	m.SetSize(100, 20)
	m.Update(common.OpenedMsg{Checkpoint: &common.Checkpoint{Path: "/ck/model.safetensors", Summary: &engine.Summary{}}})
	return m
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(m *Model)
		want string // error substring; "" for valid
	}{
		{"defaults", func(m *Model) {}, ""},
		{"gguf", func(m *Model) { m.target = 1 }, "not available in this build"},
		{"bad shard", func(m *Model) { m.shard.Value = "huge" }, "shard size"},
		{"empty output", func(m *Model) { m.output.Value = " " }, "output path"},
		{"output is source", func(m *Model) { m.output.Value = "/ck/model.safetensors" }, "it is the source"},
		{"single file without extension", func(m *Model) { m.output.Value = "/ck/out" }, ".safetensors"},
		{"sharded into a directory", func(m *Model) { m.shard.Value = "1GB"; m.output.Value = "/ck/out" }, ""},
	} {
		m := form(t)
		tc.edit(m)
		req, err := m.Request()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
		if tc.name == "defaults" && (req.Output != "/ck/model-copy.safetensors" || req.DType != formats.Invalid) {
			t.Errorf("default request %+v", req)
		}
	}
}

func TestDTypeChoiceFollowsOutput(t *testing.T) {
	t.Parallel()
	m := form(t)
	m.focus = fieldDType
	m.dtype = 1 // BF16
	m.output.Value = m.defaultOutput()
	req, err := m.Request()
	if err != nil || req.DType != formats.BF16 || req.Output != "/ck/model-bf16.safetensors" {
		t.Errorf("request %+v, %v", req, err)
	}
	// an invalid submit shows the error and starts nothing
	m.target = 1
	if cmd := m.submit(); cmd != nil || m.err == nil {
		t.Errorf("invalid form submitted (cmd %v, err %v)", cmd != nil, m.err)
	}
}
