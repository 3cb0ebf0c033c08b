package mapping

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// maxIndex caps {bid}/{xid} values read from names: no model has a million
// layers or experts, and the cap keeps hostile names from overflowing.
const maxIndex = 1 << 20

// template is a compiled dotted name template. Segments are literals,
// "{bid}" or "{xid}" placeholders, or (in user rules) literals with an
// embedded placeholder such as "h{bid}", matched with a regexp.
type template struct {
	src  string
	segs []tseg
	re   *regexp.Regexp // set when a placeholder is embedded in a segment
	vars []string       // placeholder order in re
}

type tseg struct {
	lit  string
	slot string // "bid", "xid" or "" for a literal
}

func compileTemplate(src string) (template, error) {
	t := template{src: src}
	if src == "" {
		return t, fmt.Errorf("empty template")
	}
	embedded := false
	for _, s := range strings.Split(src, ".") {
		switch s {
		case "{bid}":
			t.segs = append(t.segs, tseg{slot: "bid"})
		case "{xid}":
			t.segs = append(t.segs, tseg{slot: "xid"})
		default:
			if strings.Contains(s, "{") || strings.Contains(s, "}") {
				if strings.Count(s, "{bid}")+strings.Count(s, "{xid}") == 0 {
					return t, fmt.Errorf("template %q: unknown placeholder in %q (use {bid} or {xid})", src, s)
				}
				embedded = true
			}
			if s == "" {
				return t, fmt.Errorf("template %q: empty segment", src)
			}
			t.segs = append(t.segs, tseg{lit: s})
		}
	}
	if strings.Count(src, "{bid}") > 1 || strings.Count(src, "{xid}") > 1 {
		return t, fmt.Errorf("template %q: a placeholder appears twice", src)
	}
	if embedded {
		var b strings.Builder
		b.WriteString("^")
		rest := src
		for rest != "" {
			i := strings.Index(rest, "{")
			if i < 0 {
				b.WriteString(regexp.QuoteMeta(rest))
				break
			}
			b.WriteString(regexp.QuoteMeta(rest[:i]))
			switch {
			case strings.HasPrefix(rest[i:], "{bid}"):
				t.vars = append(t.vars, "bid")
			case strings.HasPrefix(rest[i:], "{xid}"):
				t.vars = append(t.vars, "xid")
			default:
				return t, fmt.Errorf("template %q: unknown placeholder", src)
			}
			b.WriteString(`(\d{1,7})`)
			rest = rest[i+5:]
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return t, fmt.Errorf("template %q: %v", src, err)
		}
		t.re = re
	}
	return t, nil
}

func mustTemplate(src string) template {
	t, err := compileTemplate(src)
	if err != nil {
		panic("mapping: built-in " + err.Error())
	}
	return t
}

// hasSlot reports whether the template uses the placeholder.
func (t template) hasSlot(slot string) bool {
	return strings.Contains(t.src, "{"+slot+"}")
}

// skeleton is the index key of a template: segments joined by dots with
// placeholders and all-digit literals replaced by "#". Templates with
// embedded placeholders have no skeleton ("").
func (t template) skeleton() string {
	if t.re != nil {
		return ""
	}
	parts := make([]string, len(t.segs))
	for i, s := range t.segs {
		if s.slot != "" || isDigits(s.lit) {
			parts[i] = "#"
		} else {
			parts[i] = s.lit
		}
	}
	return strings.Join(parts, ".")
}

// nameSkeleton is the index key of a concrete name.
func nameSkeleton(name string) string {
	if !strings.ContainsAny(name, "0123456789") {
		return name
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if isDigits(p) {
			parts[i] = "#"
		}
	}
	return strings.Join(parts, ".")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// match matches a concrete name; bid and xid are -1 when the template lacks
// the placeholder.
func (t template) match(name string) (bid, xid int, ok bool) {
	bid, xid = -1, -1
	if t.re != nil {
		m := t.re.FindStringSubmatch(name)
		if m == nil {
			return -1, -1, false
		}
		for i, v := range t.vars {
			n, err := strconv.Atoi(m[i+1])
			if err != nil || n >= maxIndex {
				return -1, -1, false
			}
			if v == "bid" {
				bid = n
			} else {
				xid = n
			}
		}
		return bid, xid, true
	}
	rest := name
	for i, s := range t.segs {
		var seg string
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			seg, rest = rest, ""
			if i != len(t.segs)-1 {
				return -1, -1, false
			}
		}
		if s.slot == "" {
			if seg != s.lit {
				return -1, -1, false
			}
			continue
		}
		if !isDigits(seg) || len(seg) > 7 || (len(seg) > 1 && seg[0] == '0') {
			return -1, -1, false
		}
		n, _ := strconv.Atoi(seg)
		if n >= maxIndex {
			return -1, -1, false
		}
		if s.slot == "bid" {
			bid = n
		} else {
			xid = n
		}
	}
	if rest != "" {
		return -1, -1, false
	}
	return bid, xid, true
}

// expand fills the placeholders.
func (t template) expand(bid, xid int) string {
	s := t.src
	if bid >= 0 {
		s = strings.ReplaceAll(s, "{bid}", strconv.Itoa(bid))
	}
	if xid >= 0 {
		s = strings.ReplaceAll(s, "{xid}", strconv.Itoa(xid))
	}
	return s
}

func withSuffix(s, suffix string) string {
	if suffix == "" {
		return s
	}
	return s + "." + suffix
}
