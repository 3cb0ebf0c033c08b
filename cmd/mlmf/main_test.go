package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mlmf/engine"
)

// runCLI runs mlmf in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestInspectGolden(t *testing.T) {
	// Relative path, so the golden file is the same on every machine.
	code, out, errOut := runCLI(t, "inspect", "../../testdata/tiny-sharded")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden := filepath.Join("testdata", "inspect-tiny-sharded.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with UPDATE_GOLDEN=1 go test ./cmd/mlmf)", err)
	}
	if out != string(want) {
		t.Errorf("inspect output differs from %s (UPDATE_GOLDEN=1 to accept):\n%s", golden, out)
	}
}

func TestInspectJSONShape(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, errOut := runCLI(t, "inspect", "--json", "--hash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var s engine.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Format != "safetensors" || s.TensorCount == 0 || len(s.Tensors) != s.TensorCount {
		t.Fatalf("unexpected summary: %+v", s)
	}
	var params, bytesTotal int64
	for _, r := range s.Tensors {
		if len(r.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", r.Name, r.SHA256)
		}
		n := int64(1)
		for _, d := range r.Shape {
			n *= d
		}
		params += n
		bytesTotal += r.Bytes
	}
	if params != s.ParameterCount || bytesTotal != s.TotalBytes {
		t.Errorf("totals: params %d vs %d, bytes %d vs %d", params, s.ParameterCount, bytesTotal, s.TotalBytes)
	}
	// The documented top-level keys are all present.
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"path", "format", "files", "metadata", "tensor_count", "parameter_count", "total_bytes", "dtypes", "tensors"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}

func TestErrorsAndUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{not json}      "), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect", bad}, 1, "bad.safetensors"},
		{[]string{"inspect", filepath.Join(dir, "missing")}, 1, "missing"},
		{[]string{"convert", "only-one"}, 1, "usage"},
		{[]string{"convert", bad, filepath.Join(dir, "o"), "--dtype", "F7"}, 1, "F7"},
		{[]string{"convert", bad, filepath.Join(dir, "o"), "--shard-size", "lots"}, 1, "shard-size"},
		{[]string{"help"}, 0, "usage"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(strings.ToLower(out+errOut), strings.ToLower(c.want)) {
			t.Errorf("mlmf %v: exit %d, output %q; want exit %d mentioning %q", c.args, code, out+errOut, c.code, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"5GB": 5e9, "500MB": 5e8, "2GiB": 2 << 30, "1024": 1024, "1.5kb": 1500} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1GB", "GB", "1e300GB", "x"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): want error", in)
		}
	}
}
