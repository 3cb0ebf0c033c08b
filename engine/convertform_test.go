package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlmf/formats"
)

func TestExportTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ       string
		tt        []string
		out, emb  string
		wantType  formats.DType
		wantQuant bool
		err       string
	}{
		{typ: "", wantType: formats.Invalid},
		{typ: "auto", wantType: formats.Invalid},
		{typ: "f16", wantType: formats.F16},
		{typ: "Q8_0", wantType: formats.Q8_0},
		{typ: "Q4_K_M", tt: []string{"ffn_down=Q6_K"}, out: "Q8_0", wantQuant: true},
		{typ: "F16", tt: []string{"ffn_down=Q6_K"}, err: "takes no per-tensor types"},
		{typ: "", emb: "Q8_0", err: "need a llama-quantize preset"},
		{typ: "Q4_K", err: "say which preset"},
		{typ: "Q9", err: "choose F32, F16, BF16, Q8_0"},
		{typ: "Q4_K_M", tt: []string{"ffn_(down=Q6_K"}, err: "bad regular expression"},
		{typ: "Q4_K_M", tt: []string{"ffn_down"}, err: "REGEX=TYPE"},
		{typ: "Q4_K_M", out: "nope", err: "--output-tensor-type"},
	} {
		var req ExportRequest
		err := ExportTypes(&req, tc.typ, tc.tt, tc.out, tc.emb)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || req.Type != tc.wantType || (req.Quant != nil) != tc.wantQuant {
			t.Errorf("%+v: %+v, %v", tc, req, err)
		}
	}
}

func TestHasVocab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(st, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if HasVocab(dir) || HasVocab(st) {
		t.Error("vocabulary without tokenizer files")
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !HasVocab(dir) || !HasVocab(st) {
		t.Error("tokenizer.json not seen")
	}
}
