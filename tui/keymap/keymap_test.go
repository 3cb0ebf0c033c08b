package keymap

import (
	"strings"
	"testing"
)

// Within a group no key may do two things.
func TestNoConflicts(t *testing.T) {
	t.Parallel()
	km := Default()
	for _, g := range km.Groups() {
		seen := map[string]string{}
		for _, b := range g.Bindings {
			for _, k := range b.Keys() {
				if prev, ok := seen[k]; ok {
					t.Errorf("%s: %q is both %q and %q", g.Title, k, prev, b.Help().Desc)
				}
				seen[k] = b.Help().Desc
			}
			if b.Help().Key == "" || b.Help().Desc == "" {
				t.Errorf("%s: binding %v has no help", g.Title, b.Keys())
			}
		}
	}
	md := km.Markdown()
	if !strings.HasPrefix(md, "| where | key | action |") || !strings.Contains(md, "| Tensors | `/` | search |") {
		t.Errorf("markdown:\n%s", md)
	}
}
