package mapping

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rules is a user mapping file: an architecture choice plus rules merged
// over (and taking precedence over) the architecture's built-in rules.
//
//	# rules.yaml
//	arch: llama
//	rules:
//	  - hf: blocks.{bid}.q.weight            # template: {bid} block, {xid} expert
//	    canonical: blk.{bid}.attn_q.weight
//	    transform: permute_qk                # optional
//	    transform_arg: n_head
//	  - match: '^blocks\.(\d+)\.ffn_in\.(weight|bias)$'   # or a regexp
//	    canonical: blk.$1.ffn_up.$2                       # with $1 / ${name}
//	skip:
//	  - blocks.{bid}.attn.masked_bias
//
// Names on both sides are full tensor names, suffix included.
type Rules struct {
	Arch  string     `json:"arch,omitempty" yaml:"arch,omitempty"`
	Rules []UserRule `json:"rules,omitempty" yaml:"rules,omitempty"`
	Skip  []string   `json:"skip,omitempty" yaml:"skip,omitempty"`
	// Source is the file the rules came from, for messages.
	Source string `json:"source,omitempty" yaml:"-"`
}

// UserRule maps HF names to canonical names, by template (HF) or by regular
// expression (Match); exactly one of the two is set.
type UserRule struct {
	HF           string `json:"hf,omitempty" yaml:"hf,omitempty"`
	Match        string `json:"match,omitempty" yaml:"match,omitempty"`
	Canonical    string `json:"canonical" yaml:"canonical"`
	Transform    string `json:"transform,omitempty" yaml:"transform,omitempty"`
	TransformArg string `json:"transform_arg,omitempty" yaml:"transform_arg,omitempty"`
	// Line is the rule's line in its file (0 when built in memory).
	Line int `json:"line,omitempty" yaml:"-"`
}

// Limits on mapping files: they are small, hand-written documents.
const (
	maxRulesBytes = 4 << 20
	maxRules      = 100000
	maxPattern    = 4096
)

var knownTransforms = map[string]bool{
	"": true, OpPermuteQK: true, OpNormPlusOne: true, OpStackExperts: true, OpTranspose: true, OpRegroupQKV: true,
}

// LoadRules reads a YAML mapping file. Errors name the file, the line and
// the field.
func LoadRules(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRulesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mapping: %s: %w", path, err)
	}
	if len(data) > maxRulesBytes {
		return nil, fmt.Errorf("mapping: %s: larger than %d bytes: %w", path, maxRulesBytes, ErrBadRules)
	}
	return ParseRules(data, path)
}

// ParseRules parses and validates mapping-file bytes; source names the file
// in errors.
func ParseRules(data []byte, source string) (*Rules, error) {
	if source == "" {
		source = "rules.yaml"
	}
	bad := func(line int, format string, args ...any) error {
		loc := source
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", source, line)
		}
		return fmt.Errorf("mapping: %s: %s: %w", loc, fmt.Sprintf(format, args...), ErrBadRules)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return &Rules{Source: source}, nil
		}
		return nil, bad(0, "%v", err)
	}
	if len(doc.Content) == 0 {
		return &Rules{Source: source}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, bad(root.Line, "the document must be a mapping with arch, rules and skip")
	}
	r := &Rules{Source: source}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "arch":
			if v.Kind != yaml.ScalarNode {
				return nil, bad(v.Line, "field \"arch\": want a name")
			}
			r.Arch = v.Value
			if _, err := Lookup(r.Arch); err != nil {
				return nil, bad(v.Line, "field \"arch\": unknown architecture %q (known: %s)", r.Arch, strings.Join(Names(), ", "))
			}
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return nil, bad(v.Line, "field \"rules\": want a list")
			}
			if len(v.Content) > maxRules {
				return nil, bad(v.Line, "field \"rules\": more than %d rules", maxRules)
			}
			for j, item := range v.Content {
				ur, err := parseUserRule(item)
				if err != nil {
					return nil, bad(err.line, "rules[%d]: %s", j, err.msg)
				}
				r.Rules = append(r.Rules, ur)
			}
		case "skip":
			if v.Kind != yaml.SequenceNode {
				return nil, bad(v.Line, "field \"skip\": want a list of name templates")
			}
			for j, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, bad(item.Line, "skip[%d]: want a name template", j)
				}
				if _, err := compileTemplate(item.Value); err != nil {
					return nil, bad(item.Line, "skip[%d]: %v", j, err)
				}
				r.Skip = append(r.Skip, item.Value)
			}
		default:
			return nil, bad(k.Line, "unknown field %q (want arch, rules or skip)", k.Value)
		}
	}
	if _, _, err := r.compile(); err != nil {
		return nil, err
	}
	return r, nil
}

type ruleErr struct {
	line int
	msg  string
}

func parseUserRule(n *yaml.Node) (UserRule, *ruleErr) {
	if n.Kind != yaml.MappingNode {
		return UserRule{}, &ruleErr{n.Line, "want a mapping with hf or match, and canonical"}
	}
	ur := UserRule{Line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return ur, &ruleErr{v.Line, fmt.Sprintf("field %q: want a string", k.Value)}
		}
		switch k.Value {
		case "hf":
			ur.HF = v.Value
		case "match":
			ur.Match = v.Value
		case "canonical":
			ur.Canonical = v.Value
		case "transform":
			ur.Transform = v.Value
		case "transform_arg":
			ur.TransformArg = v.Value
		default:
			return ur, &ruleErr{k.Line, fmt.Sprintf("unknown field %q (want hf, match, canonical, transform, transform_arg)", k.Value)}
		}
	}
	if msg := ur.check(); msg != "" {
		return ur, &ruleErr{n.Line, msg}
	}
	return ur, nil
}

// check validates a rule on its own; it returns "" when the rule is fine.
func (u UserRule) check() string {
	switch {
	case u.HF == "" && u.Match == "":
		return "field \"hf\" or \"match\" is required"
	case u.HF != "" && u.Match != "":
		return "set only one of \"hf\" and \"match\""
	case u.Canonical == "":
		return "field \"canonical\" is required"
	case len(u.HF) > maxPattern || len(u.Match) > maxPattern || len(u.Canonical) > maxPattern:
		return "pattern too long"
	case !knownTransforms[u.Transform]:
		return fmt.Sprintf("field \"transform\": unknown transform %q", u.Transform)
	}
	if u.TransformArg != "" && !knownVars[u.TransformArg] {
		return fmt.Sprintf("field \"transform_arg\": unknown config variable %q", u.TransformArg)
	}
	if u.HF != "" {
		h, err := compileTemplate(u.HF)
		if err != nil {
			return "field \"hf\": " + err.Error()
		}
		c, err := compileTemplate(u.Canonical)
		if err != nil {
			return "field \"canonical\": " + err.Error()
		}
		if c.hasSlot("xid") {
			return "field \"canonical\": {xid} belongs in hf only (experts are stacked)"
		}
		if h.hasSlot("bid") != c.hasSlot("bid") {
			return "fields \"hf\" and \"canonical\" must both use {bid} or neither"
		}
		return ""
	}
	re, err := regexp.Compile(u.Match)
	if err != nil {
		return "field \"match\": " + err.Error()
	}
	if strings.Contains(u.Canonical, "{bid}") || strings.Contains(u.Canonical, "{xid}") {
		return "field \"canonical\": a match rule fills the name with $1 or ${name}, not {bid}"
	}
	for _, ref := range dollarRefs.FindAllStringSubmatch(u.Canonical, -1) {
		name := ref[1] + ref[2]
		if isDigits(name) {
			if len(name) > 3 || atoiSmall(name) > re.NumSubexp() {
				return fmt.Sprintf("field \"canonical\": $%s but match has %d groups", name, re.NumSubexp())
			}
		} else if re.SubexpIndex(name) < 0 {
			return fmt.Sprintf("field \"canonical\": no group named %q in match", name)
		}
	}
	return ""
}

var dollarRefs = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

func atoiSmall(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 4; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

type regexRule struct {
	re     *regexp.Regexp
	canon  string
	tr     Transform
	source string
}

func (r regexRule) apply(name string) (Mapping, bool) {
	idx := r.re.FindStringSubmatchIndex(name)
	if idx == nil {
		return Mapping{}, false
	}
	out := string(r.re.ExpandString(nil, r.canon, name, idx))
	mp := Mapping{HF: name, Canonical: out, Block: blockOf(out), Rule: r.source}
	if r.tr.Op != "" {
		t := r.tr
		mp.Transform = &t
	}
	return mp, true
}

// blockOf reads the block index of a canonical name ("blk.3.attn_q.weight").
func blockOf(canonical string) int {
	for _, seg := range strings.Split(canonical, ".") {
		if isDigits(seg) && len(seg) < 8 {
			return atoiSmall(seg[:min(len(seg), 4)])
		}
	}
	return -1
}

// compile turns the rules into leaves (templates) and regex rules.
func (r *Rules) compile() (*compiledArch, []regexRule, error) {
	ca := &compiledArch{byHF: map[string][]*leaf{}, byCanon: map[string][]*leaf{}}
	var rx []regexRule
	for i, u := range r.Rules {
		loc := r.Source
		if u.Line > 0 {
			loc = fmt.Sprintf("%s:%d", r.Source, u.Line)
		}
		if msg := u.check(); msg != "" {
			return nil, nil, fmt.Errorf("mapping: %s: rules[%d]: %s: %w", loc, i, msg, ErrBadRules)
		}
		tr := Transform{Op: u.Transform, Arg: u.TransformArg}
		if u.Match != "" {
			rx = append(rx, regexRule{re: regexp.MustCompile(u.Match), canon: u.Canonical, tr: tr, source: loc})
			continue
		}
		h := mustTemplate(u.HF)
		c := mustTemplate(u.Canonical)
		l := &leaf{hf: h, canon: []template{c}, transform: tr, blocks: "n_layer", count: "n_expert",
			stacked: h.hasSlot("xid"), rule: i, source: loc}
		if l.stacked && l.transform.Op == "" {
			l.transform = Transform{Op: OpStackExperts}
		}
		ca.add(l)
	}
	for _, s := range r.Skip {
		t, err := compileTemplate(s)
		if err != nil {
			return nil, nil, fmt.Errorf("mapping: %s: skip %q: %v: %w", r.Source, s, err, ErrBadRules)
		}
		ca.skip = append(ca.skip, t)
	}
	return ca, rx, nil
}

// Marshal returns the rules as YAML.
func (r *Rules) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("mapping: %s: %w", r.Source, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SaveRules writes the rules to path as YAML, atomically.
func SaveRules(path string, r *Rules) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// Add appends a rule after validating it.
func (r *Rules) Add(u UserRule) error {
	if msg := u.check(); msg != "" {
		return fmt.Errorf("mapping: rule %s → %s: %s: %w", u.HF+u.Match, u.Canonical, msg, ErrBadRules)
	}
	r.Rules = append(r.Rules, u)
	return nil
}
