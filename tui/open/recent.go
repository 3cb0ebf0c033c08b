package open

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// MaxRecent bounds the recent list.
const MaxRecent = 20

type recentFile struct {
	Recent []string `json:"recent"`
}

// LoadRecent reads dir/recent.json; a missing file is an empty list.
func LoadRecent(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "recent.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rf recentFile
	if err := json.Unmarshal(b, &rf); err != nil {
		return nil, err
	}
	if len(rf.Recent) > MaxRecent {
		rf.Recent = rf.Recent[:MaxRecent]
	}
	return rf.Recent, nil
}

// SaveRecent writes the list atomically.
func SaveRecent(dir string, list []string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(recentFile{Recent: list}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".recent-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, "recent.json"))
}

// pushRecent puts path first, without duplicates, capped at MaxRecent.
func pushRecent(list []string, path string) []string {
	out := []string{path}
	for _, p := range list {
		if p != path {
			out = append(out, p)
		}
	}
	return slices.Clip(out[:min(len(out), MaxRecent)])
}

// entry is one file or directory offered by the picker.
type entry struct {
	Path  string
	IsDir bool
}

// listDir lists the entries of dir whose names start with prefix: directories
// and files that look like checkpoints, directories first.
func listDir(dir, prefix string) ([]entry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var dirs, files []entry
	for _, e := range ents {
		name := e.Name()
		if len(name) == 0 || name[0] == '.' && (prefix == "" || prefix[0] != '.') {
			continue
		}
		if len(name) < len(prefix) || name[:len(prefix)] != prefix {
			continue
		}
		p := filepath.Join(dir, name)
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil {
				isDir = st.IsDir()
			}
		}
		if isDir {
			dirs = append(dirs, entry{p, true})
			continue
		}
		switch filepath.Ext(name) {
		case ".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".json", ".npz", ".npy":
			files = append(files, entry{p, false})
		}
	}
	return append(dirs, files...), nil
}
