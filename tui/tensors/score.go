package tensors

import (
	"strings"
	"unicode/utf8"
)

// scoreASCII is github.com/sahilm/fuzzy's scoring (v0.1.3) specialised to
// an ASCII pattern and candidate: the same bonuses, penalties and exhaustive
// choice of the best position for each pattern character, so it ranks
// exactly as fuzzy.Find does (TestScoreMatchesSahilm compares them), but it
// jumps between occurrences with strings.IndexByte on the lower-cased name
// instead of stepping through every byte, and never allocates.
//
// In sahilm's scan, the position of pattern character i is chosen among its
// occurrences from the first one up to the first position followed by
// character i+1 (the end of the name for the last character): that window
// is what the loop below walks. lp is the lower-cased pattern, low the
// lower-cased s. Non-ASCII names go through sahilm/fuzzy itself.
func scoreASCII(lp []byte, low, s string) (int, bool) {
	const (
		firstCharMatchBonus            = 10
		matchFollowingSeparatorBonus   = 20
		camelCaseMatchBonus            = 20
		adjacentMatchBonus             = 5
		unmatchedLeadingCharPenalty    = -5
		maxUnmatchedLeadingCharPenalty = -15
	)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s, low = s[:i], low[:i]
	}
	n := len(s)
	total, matched, lastMatch, curAdj := 0, 0, -1, 0
	pos := 0
	for pi, p := range lp {
		k := strings.IndexByte(low[pos:], p)
		if k < 0 {
			return 0, false
		}
		first := pos + k
		end := n - 1
		if pi < len(lp)-1 {
			k2 := strings.IndexByte(low[first+1:], lp[pi+1])
			if k2 < 0 {
				return 0, false
			}
			end = first + k2
		}
		best, bestAt := -1, -1
		for j := first; ; {
			score := 0
			var last byte
			if j > 0 {
				last = s[j-1]
			} else {
				score += firstCharMatchBonus
			}
			if class[last]&isLower != 0 && class[s[j]]&isUpper != 0 {
				score += camelCaseMatchBonus
			}
			if j != 0 && class[last]&isSep != 0 {
				score += matchFollowingSeparatorBonus
			}
			if matched > 0 && lastMatch == j-1 {
				bonus := curAdj*2 + adjacentMatchBonus
				score += bonus
				curAdj += bonus
			}
			if score > best {
				best, bestAt = score, j
			}
			if j >= end {
				break
			}
			k := strings.IndexByte(low[j+1:end+1], p)
			if k < 0 {
				break
			}
			j += 1 + k
		}
		if matched == 0 {
			best += max(bestAt*unmatchedLeadingCharPenalty, maxUnmatchedLeadingCharPenalty)
		}
		total += best
		matched++
		lastMatch = bestAt
		pos = end + 1
	}
	return total + matched - n, true
}

const (
	isLower = 1 << iota
	isUpper
	isSep
)

var lower, class [256]byte

func init() {
	for i := range 256 {
		c := byte(i)
		lower[i] = c
		switch {
		case c >= 'A' && c <= 'Z':
			lower[i] = c + 'a' - 'A'
			class[i] = isUpper
		case c >= 'a' && c <= 'z':
			class[i] = isLower
		}
		if strings.IndexByte("/-_ .\\", c) >= 0 {
			class[i] |= isSep
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
