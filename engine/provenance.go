package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"mlmf/formats/gguf"
)

// Version is mlmf's version as written into provenance metadata
// (mlmf.version): the module version of a released build, else "dev" with
// the VCS revision the binary was built from.
var Version = buildVersion()

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev+" + rev[:min(len(rev), 12)]
	if dirty {
		v += ".dirty"
	}
	return v
}

// Provenance is where a converted model comes from: the lineage keys that
// gguf-py's Metadata writes (general.name, general.base_model.N.*, …), read
// from the source's model card (README.md front matter), config.json and
// location, plus what mlmf itself knows: its version, the source files with
// their sha256, and the conversion options. GGUF exports write it as
// key-values (GGUFKVs), Hugging Face exports into the model card, the
// safetensors __metadata__ and provenance.json.
type Provenance struct {
	Name         string `json:"name,omitempty"`
	Organization string `json:"organization,omitempty"`
	Version      string `json:"version,omitempty"`
	Basename     string `json:"basename,omitempty"`
	Finetune     string `json:"finetune,omitempty"`
	Author       string `json:"author,omitempty"`
	Description  string `json:"description,omitempty"`
	QuantizedBy  string `json:"quantized_by,omitempty"`
	License      string `json:"license,omitempty"`
	LicenseName  string `json:"license_name,omitempty"`
	LicenseLink  string `json:"license_link,omitempty"`
	// RepoID is the source's Hugging Face repository ("org/name") when
	// known: from the hub cache path, or config.json's _name_or_path, or a
	// GGUF's general.source.repo_url.
	RepoID     string      `json:"repo_id,omitempty"`
	SourceURL  string      `json:"source_url,omitempty"`
	BaseModels []BaseModel `json:"base_models,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Languages  []string    `json:"languages,omitempty"`

	// Tool is mlmf's version (mlmf.version).
	Tool string `json:"mlmf_version"`
	// Files are the source files, with size and sha256 (mlmf.source.files).
	Files []SourceFile `json:"source_files"`
	// Options are the conversion options (mlmf.options), written sorted.
	Options map[string]string `json:"options,omitempty"`
}

// BaseModel is one general.base_model.N entry.
type BaseModel struct {
	Name         string `json:"name,omitempty"`
	Organization string `json:"organization,omitempty"`
	Version      string `json:"version,omitempty"`
	RepoURL      string `json:"repo_url,omitempty"`
}

// SourceFile is a file the conversion read.
type SourceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// maxCardBytes caps the README.md read for its front matter.
const maxCardBytes = 4 << 20

// hubURL is the prefix of Hugging Face repository URLs.
const hubURL = "https://huggingface.co/"

// ReadProvenance gathers the provenance of a Hugging Face checkpoint: dir
// is its directory (or a file in it), files the checkpoint files to hash
// (nil hashes none), options the conversion options. The name, organization
// and base models follow gguf-py's Metadata heuristics for the model card
// keys and _name_or_path; a missing README.md or config.json is not an
// error, an unreadable one is.
func ReadProvenance(dir string, files []string, options map[string]string) (*Provenance, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	p := &Provenance{Tool: Version, Options: options}
	card, err := readCardMeta(filepath.Join(dir, "README.md"))
	if err != nil {
		return nil, err
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := card[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	p.Name = str("name", "model_name")
	p.Author = str("author", "model_author", "model_creator")
	p.Version = str("version", "model_version")
	p.Organization = str("organization", "model_organization")
	p.Description = str("description", "model_description")
	p.Finetune = str("finetune", "model_finetune")
	p.Basename = str("basename", "model_basename")
	p.SourceURL = str("url", "model_url")
	p.License = strings.Join(strList(card["license"]), ",")
	p.LicenseName = str("license_name")
	p.LicenseLink = str("license_link")
	p.Tags = append(strList(card["tags"]), strList(card["pipeline_tag"])...)
	p.Languages = strList(card["language"])
	if p.Languages == nil {
		p.Languages = strList(card["languages"])
	}
	for _, b := range strList(firstOf(card, "base_model", "base_models", "base_model_sources")) {
		p.BaseModels = append(p.BaseModels, baseModelOf(b))
	}

	p.RepoID = hubCacheRepoID(dir)
	if p.RepoID == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			var c struct {
				NameOrPath string `json:"_name_or_path"`
			}
			if json.Unmarshal(b, &c) == nil && isRepoID(c.NameOrPath) {
				p.RepoID = c.NameOrPath
			}
		}
	}
	if p.RepoID != "" {
		org, name, _ := strings.Cut(p.RepoID, "/")
		if p.Name == "" {
			p.Name = idToTitle(name)
		}
		if p.Organization == "" {
			p.Organization = idToTitle(org)
		}
	}
	if p.Name == "" {
		p.Name = idToTitle(filepath.Base(filepath.Clean(dir)))
	}
	if p.Files, err = hashFiles(files); err != nil {
		return nil, err
	}
	return p, nil
}

// ProvenanceFromGGUF reads the lineage a GGUF file carries (general.*) and
// hashes its files.
func ProvenanceFromGGUF(f *gguf.File, options map[string]string) (*Provenance, error) {
	s := func(k string) string { v, _ := f.String(k); return v }
	p := &Provenance{
		Tool: Version, Options: options,
		Name: s("general.name"), Organization: s("general.organization"), Version: s("general.version"),
		Basename: s("general.basename"), Finetune: s("general.finetune"), Author: s("general.author"),
		Description: s("general.description"), QuantizedBy: s("general.quantized_by"),
		License: s("general.license"), LicenseName: s("general.license.name"), LicenseLink: s("general.license.link"),
		SourceURL: s("general.source.url"),
	}
	for _, u := range []string{s("general.source.repo_url"), s("general.repo_url")} {
		if id, ok := strings.CutPrefix(u, hubURL); ok && isRepoID(id) {
			p.RepoID = id
			break
		}
	}
	p.Tags, _ = f.Strings("general.tags")
	p.Languages, _ = f.Strings("general.languages")
	if n, ok := f.Uint("general.base_model.count"); ok && n <= 64 {
		for i := range int(n) {
			k := "general.base_model." + strconv.Itoa(i) + "."
			p.BaseModels = append(p.BaseModels, BaseModel{Name: s(k + "name"), Organization: s(k + "organization"),
				Version: s(k + "version"), RepoURL: s(k + "repo_url")})
		}
	}
	var err error
	if p.Files, err = hashFiles(f.Files()); err != nil {
		return nil, err
	}
	return p, nil
}

// GGUFKVs returns the provenance as GGUF key-values: the general.* keys
// gguf-py's Metadata.set_gguf_meta_model writes, in its order, then
// mlmf.version, mlmf.source.files ("sha256  size  name" per file, as
// sha256sum lists them with the size added) and mlmf.options ("k=v" sorted).
func (p *Provenance) GGUFKVs() []gguf.KV {
	var kvs []gguf.KV
	add := func(k, v string) {
		if v != "" {
			kvs = append(kvs, gguf.String(k, v))
		}
	}
	add("general.name", p.Name)
	add("general.author", p.Author)
	add("general.version", p.Version)
	add("general.organization", p.Organization)
	add("general.finetune", p.Finetune)
	add("general.basename", p.Basename)
	add("general.description", p.Description)
	add("general.quantized_by", p.QuantizedBy)
	add("general.license", p.License)
	add("general.license.name", p.LicenseName)
	add("general.license.link", p.LicenseLink)
	add("general.source.url", p.SourceURL)
	if p.RepoID != "" {
		add("general.source.repo_url", hubURL+p.RepoID)
	}
	if len(p.BaseModels) > 0 {
		kvs = append(kvs, gguf.Uint32("general.base_model.count", uint32(len(p.BaseModels))))
		for i, b := range p.BaseModels {
			k := "general.base_model." + strconv.Itoa(i) + "."
			add(k+"name", b.Name)
			add(k+"version", b.Version)
			add(k+"organization", b.Organization)
			add(k+"repo_url", b.RepoURL)
		}
	}
	if len(p.Tags) > 0 {
		kvs = append(kvs, gguf.Strings("general.tags", p.Tags))
	}
	if len(p.Languages) > 0 {
		kvs = append(kvs, gguf.Strings("general.languages", p.Languages))
	}
	add("mlmf.version", p.Tool)
	if len(p.Files) > 0 {
		kvs = append(kvs, gguf.Strings("mlmf.source.files", p.fileLines()))
	}
	add("mlmf.options", p.optionString())
	return kvs
}

// ApplyProvenance sets the provenance keys of the checkpoint at src (a
// Hugging Face directory, files its checkpoint files) in kvs, replacing keys
// already there: the call a GGUF export makes once its metadata is built.
func ApplyProvenance(kvs []gguf.KV, src string, files []string, options map[string]string) ([]gguf.KV, error) {
	p, err := ReadProvenance(src, files, options)
	if err != nil {
		return nil, err
	}
	for _, kv := range p.GGUFKVs() {
		kvs = setMetaKV(kvs, kv)
	}
	return kvs, nil
}

// deferredProvenance is ApplyProvenance for gguf.WriteDeferred: the keys go
// into kvs at once with zero placeholders for the files' sha256, the files
// are hashed on another core while the tensors stream, and final returns
// the given metadata (kvs with whatever was added since) with the real
// hashes. stop ends the hashing early; call it when the write is over,
// however it ended.
func deferredProvenance(ctx context.Context, kvs []gguf.KV, src string, files []string, options map[string]string) (out []gguf.KV, final func([]gguf.KV) ([]gguf.KV, error), stop func(), err error) {
	p, err := ReadProvenance(src, nil, options)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, name := range files {
		st, err := os.Stat(name)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("provenance: %w", err)
		}
		p.Files = append(p.Files, SourceFile{Name: filepath.Base(name), Size: st.Size(), SHA256: strings.Repeat("0", sha256.Size*2)})
	}
	kvs = slices.Clone(kvs)
	for _, kv := range p.GGUFKVs() {
		kvs = setMetaKV(kvs, kv)
	}
	hctx, cancel := context.WithCancel(ctx)
	type result struct {
		files []SourceFile
		err   error
	}
	done := make(chan result, 1)
	go func() {
		fs, err := hashFilesCtx(hctx, files)
		done <- result{fs, err}
	}()
	final = func(kvs []gguf.KV) ([]gguf.KV, error) {
		r := <-done
		if r.err != nil {
			return nil, r.err
		}
		for i, f := range r.files {
			if f.Size != p.Files[i].Size {
				return nil, fmt.Errorf("provenance: %s changed size during the conversion (%d → %d bytes)", files[i], p.Files[i].Size, f.Size)
			}
		}
		q := *p
		q.Files = r.files
		out := slices.Clone(kvs)
		for _, kv := range q.GGUFKVs() {
			out = setMetaKV(out, kv)
		}
		return out, nil
	}
	return kvs, final, cancel, nil
}

// metaOrder is the order in which gguf-py's Metadata.set_gguf_meta_model
// writes the general.* keys ({id} entries in index order, their fields in
// this order).
var metaOrder = []string{"general.name", "general.author", "general.version", "general.organization",
	"general.finetune", "general.basename", "general.description", "general.quantized_by", "general.size_label",
	"general.license", "general.license.name", "general.license.link", "general.url", "general.doi", "general.uuid",
	"general.repo_url", "general.source.url", "general.source.doi", "general.source.uuid", "general.source.repo_url",
	"general.base_model.count", "general.base_model.{id}.name", "general.base_model.{id}.author",
	"general.base_model.{id}.version", "general.base_model.{id}.organization", "general.base_model.{id}.description",
	"general.base_model.{id}.url", "general.base_model.{id}.doi", "general.base_model.{id}.uuid",
	"general.base_model.{id}.repo_url", "general.tags", "general.languages"}

// metaRank orders a key as gguf-py writes it; ok is false for keys outside
// metaOrder.
func metaRank(key string) (rank [3]int, ok bool) {
	id := -1
	if rest, found := strings.CutPrefix(key, "general.base_model."); found {
		if n, field, found := strings.Cut(rest, "."); found {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 {
				id, key = i, "general.base_model.{id}."+field
			}
		}
	}
	for i, k := range metaOrder {
		if k == key {
			if id >= 0 {
				return [3]int{slices.Index(metaOrder, "general.base_model.{id}.name"), id, i}, true
			}
			return [3]int{i, 0, 0}, true
		}
	}
	return rank, false
}

// setMetaKV sets kv in kvs: replaced where its key is; a new general.* key
// goes where gguf-py would write it, after the last key it writes before
// it (else after general.name, else after the leading general.* keys);
// other keys are appended.
func setMetaKV(kvs []gguf.KV, kv gguf.KV) []gguf.KV {
	for i := range kvs {
		if kvs[i].Key == kv.Key {
			kvs[i] = kv
			return kvs
		}
	}
	r, ok := metaRank(kv.Key)
	if !ok {
		return append(kvs, kv)
	}
	pos := -1
	for i, e := range kvs {
		if er, eok := metaRank(e.Key); eok && lessRank(er, r) {
			pos = i
		}
	}
	if pos < 0 {
		for pos+1 < len(kvs) && strings.HasPrefix(kvs[pos+1].Key, "general.") {
			if _, eok := metaRank(kvs[pos+1].Key); eok {
				break
			}
			pos++
		}
	}
	return slices.Insert(kvs, pos+1, kv)
}

func lessRank(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// SafetensorsMetadata returns the provenance as safetensors __metadata__
// entries (strings), to sit beside "format": "pt".
func (p *Provenance) SafetensorsMetadata() map[string]string {
	m := map[string]string{"mlmf.version": p.Tool}
	if len(p.Files) > 0 {
		m["mlmf.source.files"] = strings.Join(p.fileLines(), "\n")
	}
	if o := p.optionString(); o != "" {
		m["mlmf.options"] = o
	}
	if p.RepoID != "" {
		m["mlmf.source.repo_id"] = p.RepoID
	}
	return m
}

// JSON returns provenance.json's content.
func (p *Provenance) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (p *Provenance) fileLines() []string {
	out := make([]string, len(p.Files))
	for i, f := range p.Files {
		out[i] = fmt.Sprintf("%s  %d  %s", f.SHA256, f.Size, f.Name)
	}
	return out
}

func (p *Provenance) optionString() string {
	keys := make([]string, 0, len(p.Options))
	for k := range p.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p.Options[k]
	}
	return strings.Join(parts, " ")
}

// hashFiles hashes each file (base name, size, sha256), in the order given.
func hashFiles(files []string) ([]SourceFile, error) {
	return hashFilesCtx(context.Background(), files)
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// hashFilesCtx is hashFiles, stopping when ctx is done.
func hashFilesCtx(ctx context.Context, files []string) ([]SourceFile, error) {
	out := make([]SourceFile, 0, len(files))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
		h := sha256.New()
		n, mapped, err := hashMapped(ctx, f, h)
		if !mapped {
			n, err = io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20))
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("provenance: %s: %w", name, err)
		}
		out = append(out, SourceFile{Name: filepath.Base(name), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	return out, nil
}

// readCardMeta returns the YAML front matter of a model card, nil when the
// file is absent or has none.
func readCardMeta(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCardBytes))
	if err != nil {
		return nil, fmt.Errorf("provenance: %s: %w", path, err)
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	rest, ok := bytes.CutPrefix(b, []byte("---\n"))
	if !ok {
		return nil, nil
	}
	end := bytes.Index(rest, []byte("\n---"))
	if end < 0 {
		return nil, nil
	}
	var m map[string]any
	if err := yaml.Unmarshal(rest[:end+1], &m); err != nil {
		return nil, fmt.Errorf("provenance: %s: front matter: %v (fix the YAML between the --- lines)", path, err)
	}
	return m, nil
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// strList reads a string or a list of strings.
func strList(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var repoIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// isRepoID reports whether s looks like a Hub repository id ("org/name"),
// not a local path.
func isRepoID(s string) bool { return repoIDPattern.MatchString(s) && !strings.Contains(s, "..") }

// baseModelOf is gguf-py's base model entry for a model card's base_model
// value: a Hub id gives name, organization and repo_url; a URL the repo_url
// (and name and organization when it is a Hub URL).
func baseModelOf(id string) BaseModel {
	if strings.HasPrefix(id, "http://") || strings.HasPrefix(id, "https://") || strings.HasPrefix(id, "ssh://") {
		b := BaseModel{RepoURL: id}
		if rest, ok := strings.CutPrefix(strings.TrimPrefix(id, "http://"), "huggingface.co/"); ok && isRepoID(rest) {
			id = rest
		} else if rest, ok := strings.CutPrefix(id, hubURL); ok && isRepoID(rest) {
			id = rest
		} else {
			return b
		}
		org, name, _ := strings.Cut(id, "/")
		b.Name, b.Organization = idToTitle(name), idToTitle(org)
		return b
	}
	org, name, ok := strings.Cut(id, "/")
	if !ok || strings.Contains(id, " ") {
		return BaseModel{Name: idToTitle(id)}
	}
	return BaseModel{Name: idToTitle(name), Organization: idToTitle(org), RepoURL: hubURL + org + "/" + name}
}

// hubCacheRepoID is "org/name" for a directory inside the Hugging Face hub
// cache (…/models--org--name/snapshots/<rev>).
func hubCacheRepoID(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; d != filepath.Dir(d); d = filepath.Dir(d) {
		base := filepath.Base(d)
		if rest, ok := strings.CutPrefix(base, "models--"); ok {
			org, name, ok := strings.Cut(rest, "--")
			if ok && isRepoID(org+"/"+name) {
				return org + "/" + name
			}
			return ""
		}
	}
	return ""
}
