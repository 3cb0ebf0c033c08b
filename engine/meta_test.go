package engine

import (
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats/gguf"
)

func copyTinyGGUF(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "formats", "gguf", "testdata", "tiny.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEditMeta(t *testing.T) {
	t.Parallel()
	p := copyTinyGGUF(t)
	res, err := EditMeta(MetaEditRequest{Path: p, Set: []string{"general.name=str:edited", "mlmf.test=int:7"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Set != 2 || res.Deleted != 0 {
		t.Errorf("result %+v", res)
	}
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := f.Get("general.name")
	n, _ := f.Get("mlmf.test")
	f.Close()
	if name.Value != "edited" || n.Value != uint32(7) {
		t.Errorf("after set: %v %v", name, n)
	}
	if _, err := EditMeta(MetaEditRequest{Path: p, Del: []string{"mlmf.test"}}); err != nil {
		t.Fatal(err)
	}
	f, err = gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	_, has := f.Get("mlmf.test")
	f.Close()
	if has {
		t.Error("mlmf.test still there after delete")
	}
	for _, bad := range []MetaEditRequest{
		{Path: p, Del: []string{"no.such.key"}},
		{Path: p, Set: []string{"general.name=blob:x"}},
		{Path: p, Set: []string{"no-equals"}},
	} {
		before, _ := os.ReadFile(p)
		if _, err := EditMeta(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
		if after, _ := os.ReadFile(p); string(after) != string(before) {
			t.Errorf("%+v: file changed", bad)
		}
	}
}

func TestMetaEditType(t *testing.T) {
	t.Parallel()
	for v, want := range map[any]string{uint32(1): "int", int64(-1): "int", float32(1): "float", true: "bool", "x": "str"} {
		if got := MetaEditType(v); got != want {
			t.Errorf("MetaEditType(%T) = %q, want %q", v, got, want)
		}
	}
	if got := MetaEditType([]string{"a"}); got != "" {
		t.Errorf("arrays: %q", got)
	}
}

func TestCheckMetaSet(t *testing.T) {
	t.Parallel()
	if k, err := CheckMetaSet("general.name=str:x"); err != nil || k != "general.name" {
		t.Errorf("str: %q, %v", k, err)
	}
	for _, bad := range []string{"t.i32=int:-5", "t.i32=int: -5", "x=blob:1", "novalue"} {
		if _, err := CheckMetaSet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
