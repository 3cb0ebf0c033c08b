package formats

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenNamesRecognisedButUnreadableFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		want string
		err  error
	}{
		{write("m.weights", []byte("GGUF\x03\x00\x00\x00rest")), "gguf", ErrUnsupported},
		{write("m.pkl", []byte{0x80, 0x02, 'c', 'x'}), "pytorch", ErrUnsupported},
		{write("model.onnx", []byte("\x08\x07\x12")), "onnx", ErrUnsupported},
		{write("junk.dat", []byte("hello")), "not a checkpoint format", ErrUnknownFormat},
		{write("empty", nil), "not a checkpoint format", ErrUnknownFormat},
	}
	for _, c := range cases {
		r, err := Open(c.path)
		if err == nil {
			r.Close()
			t.Errorf("Open(%s): want error", c.path)
			continue
		}
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("Open(%s) = %v; want %v naming %q and the path", c.path, err, c.err, c.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("directory without checkpoint: %v", err)
	}
}

func TestResolveHF(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(cache, "models--org--name")
	snap := filepath.Join(repo, "snapshots", commit)
	must(t, os.MkdirAll(snap, 0o755))
	must(t, os.MkdirAll(filepath.Join(repo, "refs", "refs", "pr"), 0o755))
	must(t, os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(repo, "refs", "refs", "pr", "1"), []byte(commit), 0o644))
	must(t, os.WriteFile(filepath.Join(repo, "refs", "bad"), []byte("zzz"), 0o644))

	ok := map[string]string{
		"hf://org/name":                   snap,
		"hf://org/name@main":              snap,
		"hf://org/name@" + commit:         snap,
		"hf://org/name@refs/pr/1":         snap,
		"hf://org/name/model.safetensors": filepath.Join(snap, "model.safetensors"),
		"hf://org/name@main/sub/a.json":   filepath.Join(snap, "sub", "a.json"),
	}
	for ref, want := range ok {
		got, err := ResolveHF(ref)
		if err != nil || got != want {
			t.Errorf("ResolveHF(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	bad := []string{"hf://org", "hf://org/missing", "hf://org/name@nope", "hf://org/name@bad",
		"hf://org/name/../../etc/passwd", "hf://../x/name", "hf://org/name@"}
	for _, ref := range bad {
		if got, err := ResolveHF(ref); err == nil {
			t.Errorf("ResolveHF(%q) = %q; want error", ref, got)
		}
	}
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HOME", "/x/home")
	if d := HFCacheDir(); d != "/x/home/hub" {
		t.Errorf("HFCacheDir with HF_HOME = %q", d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
