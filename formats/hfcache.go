package formats

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// HFScheme prefixes Hugging Face hub cache references.
const HFScheme = "hf://"

var (
	repoPart   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)
	prRef      = regexp.MustCompile(`^refs/pr/[0-9]+$`)
)

// HFCacheDir returns the hub cache directory: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub — the order huggingface_hub uses.
func HFCacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".cache", "huggingface", "hub")
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// ResolveHF turns hf://org/name[@revision][/path/in/repo] into a path inside
// the local hub cache: models--org--name/snapshots/<commit>[/path]. The
// revision is a branch or tag (looked up in refs/, "main" by default) or a
// full commit hash. Nothing is downloaded.
func ResolveHF(ref string) (string, error) {
	rest, ok := strings.CutPrefix(ref, HFScheme)
	if !ok {
		return "", fmt.Errorf("%q is not an %s reference", ref, HFScheme)
	}
	org, rest, ok := strings.Cut(rest, "/")
	if !ok || rest == "" {
		return "", fmt.Errorf("%s: want hf://org/name[@revision][/file]: %w", ref, ErrNotFound)
	}
	name, sub, revision := rest, "", "main"
	if at := strings.IndexByte(rest, '@'); at >= 0 && !strings.Contains(rest[:at], "/") {
		name = rest[:at]
		after := rest[at+1:]
		segs := 1
		if strings.HasPrefix(after, "refs/pr/") {
			segs = 3 // pull-request refs: refs/pr/N
		}
		parts := strings.SplitN(after, "/", segs+1)
		revision = strings.Join(parts[:min(segs, len(parts))], "/")
		if len(parts) > segs {
			sub = parts[segs]
		}
	} else {
		name, sub, _ = strings.Cut(rest, "/")
	}
	if sub != "" && (strings.Contains("/"+sub+"/", "/../") || filepath.IsAbs(sub)) {
		return "", fmt.Errorf("%s: file path %q leaves the repository", ref, sub)
	}
	if !repoPart.MatchString(org) || !repoPart.MatchString(name) || revision == "" ||
		strings.ContainsAny(revision, `/\`) && !prRef.MatchString(revision) || revision == ".." || revision == "." {
		return "", fmt.Errorf("%s: malformed hub reference", ref)
	}
	cache := HFCacheDir()
	repo := filepath.Join(cache, "models--"+org+"--"+name)
	if _, err := os.Stat(repo); err != nil {
		return "", fmt.Errorf("%s: %s not in the hub cache %s (download it with `hf download %s/%s`): %w",
			ref, org+"/"+name, cache, org, name, ErrNotFound)
	}
	commit := revision
	if !commitHash.MatchString(revision) {
		b, err := os.ReadFile(filepath.Join(repo, "refs", filepath.FromSlash(revision)))
		if err != nil {
			return "", fmt.Errorf("%s: revision %q not in the hub cache (%s/refs): %w", ref, revision, repo, ErrNotFound)
		}
		commit = strings.TrimSpace(string(b))
		if !commitHash.MatchString(commit) {
			return "", fmt.Errorf("%s: refs/%s holds %q, not a commit hash: %w", ref, revision, commit, ErrCorrupt)
		}
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if _, err := os.Stat(snap); err != nil {
		return "", fmt.Errorf("%s: snapshot %s missing from the hub cache: %w", ref, commit, ErrNotFound)
	}
	if sub != "" {
		snap = filepath.Join(snap, filepath.FromSlash(sub))
	}
	return snap, nil
}
