package safetensors

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mlmf/formats"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes: the limit of
// the reference implementation.
const MaxHeaderSize = 100_000_000

// minEntryLen is the shortest possible tensor entry in a header,
// `"":{"dtype":"U8","shape":[],"data_offsets":[0,0]}`, which bounds the
// number of tensors a header of a given size can declare.
const minEntryLen = 49

// corruptf returns an ErrCorrupt error about file.
func corruptf(file, format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: %s: %w", file, fmt.Sprintf(format, args...), formats.ErrCorrupt)
}

// header is a parsed and validated JSON header.
type header struct {
	tensors []formats.TensorInfo // sorted by offset, then name
	index   map[string]int
	meta    map[string]string // nil when the header has no __metadata__
}

// parseHeader parses and validates the JSON header h of file, whose data
// buffer starts at absolute offset dataStart and holds dataLen bytes. It
// checks everything the reference checks (and duplicates, which it lets
// through): after it returns, every tensor lies inside the data buffer, the
// tensors cover it without holes or overlaps, and sizes match shapes.
func parseHeader(file, h string, dataStart, dataLen int64) (*header, error) {
	if bad := validUTF8(h); bad >= 0 {
		return nil, corruptf(file, "header is not valid UTF-8 (byte %d of the header)", bad)
	}
	// Size the tables exactly: a first pass counts the members of the
	// header object without allocating, so that the tables cost a fixed
	// amount per tensor actually declared, with no growth.
	hint := countMembers(h)
	hd := &header{
		tensors: make([]formats.TensorInfo, 0, hint),
		index:   make(map[string]int, hint),
	}
	// One backing array for all shapes; grown by append, so earlier shapes
	// keep pointing at the old array, which is fine.
	dims := make([]int64, 0, 3*hint)

	p := &scanner{s: h}
	syntax := func(err error) error {
		var se *syntaxError
		if errors.As(err, &se) {
			return corruptf(file, "invalid JSON header at byte %d of the file: %s", 8+se.pos, se.msg)
		}
		return err
	}
	if err := p.expect('{', "'{' (a JSON object)"); err != nil {
		return nil, syntax(err)
	}
	if p.peek() == '}' {
		p.i++
	} else {
		seenMeta := false
		for {
			name, err := p.str()
			if err != nil {
				return nil, syntax(err)
			}
			if err := p.expect(':', "':'"); err != nil {
				return nil, syntax(err)
			}
			if name == "__metadata__" {
				if seenMeta {
					return nil, corruptf(file, "__metadata__ appears twice in the header")
				}
				seenMeta = true
				if hd.meta, err = parseMeta(file, p); err != nil {
					return nil, err
				}
			} else {
				if _, dup := hd.index[name]; dup {
					return nil, corruptf(file, "tensor %q: name appears twice in the header", name)
				}
				t := formats.TensorInfo{Name: name, File: file}
				var begin, end int64
				if dims, begin, end, err = parseEntry(file, p, &t, dims); err != nil {
					return nil, err
				}
				if err := checkEntry(file, &t, begin, end, dataLen); err != nil {
					return nil, err
				}
				t.Offset = dataStart + begin
				hd.index[name] = len(hd.tensors)
				hd.tensors = append(hd.tensors, t)
			}
			more, err := p.next('}')
			if err != nil {
				return nil, syntax(err)
			}
			if !more {
				break
			}
		}
	}
	if !p.atEnd() {
		return nil, syntax(p.errorf("unexpected %s after the header object (only spaces may pad it)", p.describe()))
	}
	if err := checkCoverage(file, hd, dataStart, dataLen); err != nil {
		return nil, err
	}
	return hd, nil
}

// parseMeta parses the __metadata__ value: null or an object of strings.
func parseMeta(file string, p *scanner) (map[string]string, error) {
	if p.literal("null") {
		return nil, nil
	}
	if p.peek() != '{' {
		return nil, corruptf(file, "__metadata__ must be an object of strings, found %s", p.describe())
	}
	p.i++
	meta := map[string]string{}
	if p.peek() == '}' {
		p.i++
		return meta, nil
	}
	for {
		k, err := p.str()
		if err != nil {
			return nil, corruptf(file, "__metadata__: %v", err)
		}
		if err := p.expect(':', "':'"); err != nil {
			return nil, corruptf(file, "__metadata__: %v", err)
		}
		if c := p.peek(); c != '"' {
			return nil, corruptf(file, "__metadata__: value of %q must be a string, found %s", k, p.describe())
		}
		v, err := p.str()
		if err != nil {
			return nil, corruptf(file, "__metadata__: value of %q: %v", k, err)
		}
		if _, dup := meta[k]; dup {
			return nil, corruptf(file, "__metadata__: key %q appears twice", k)
		}
		meta[k] = v
		more, err := p.next('}')
		if err != nil {
			return nil, corruptf(file, "__metadata__: %v", err)
		}
		if !more {
			return meta, nil
		}
	}
}

// parseEntry parses one tensor entry: an object with exactly one each of
// dtype, shape and data_offsets. Other keys are skipped, as the reference
// (serde without deny_unknown_fields) does.
func parseEntry(file string, p *scanner, t *formats.TensorInfo, dims []int64) ([]int64, int64, int64, error) {
	bad := func(format string, args ...any) ([]int64, int64, int64, error) {
		return dims, 0, 0, corruptf(file, "tensor %q: %s", t.Name, fmt.Sprintf(format, args...))
	}
	if p.peek() != '{' {
		return bad("entry must be an object with dtype, shape and data_offsets, found %s", p.describe())
	}
	p.i++
	const (
		haveDType = 1 << iota
		haveShape
		haveOffsets
	)
	var have int
	var begin, end int64
	if p.peek() == '}' {
		p.i++
		return bad("entry has no dtype, shape or data_offsets")
	}
	for {
		key, err := p.str()
		if err != nil {
			return bad("%v", err)
		}
		if err := p.expect(':', "':'"); err != nil {
			return bad("%v", err)
		}
		switch key {
		case "dtype":
			if have&haveDType != 0 {
				return bad("dtype appears twice")
			}
			have |= haveDType
			if p.peek() != '"' {
				return bad("dtype must be a string, found %s", p.describe())
			}
			s, err := p.str()
			if err != nil {
				return bad("dtype: %v", err)
			}
			d, ok := dtypeByName[s]
			if !ok {
				return bad("unknown dtype %q (safetensors knows %s)", s, dtypeList())
			}
			t.DType = d
		case "shape":
			if have&haveShape != 0 {
				return bad("shape appears twice")
			}
			have |= haveShape
			if p.peek() != '[' {
				return bad("shape must be an array of non-negative integers, found %s", p.describe())
			}
			p.i++
			start := len(dims)
			if p.peek() == ']' {
				p.i++
			} else {
				for {
					n, err := p.uint()
					if err != nil {
						return bad("shape: %v", err)
					}
					dims = append(dims, n)
					more, err := p.next(']')
					if err != nil {
						return bad("shape: %v", err)
					}
					if !more {
						break
					}
				}
			}
			t.Shape = dims[start:len(dims):len(dims)]
		case "data_offsets":
			if have&haveOffsets != 0 {
				return bad("data_offsets appears twice")
			}
			have |= haveOffsets
			if p.peek() != '[' {
				return bad("data_offsets must be an array [begin, end], found %s", p.describe())
			}
			p.i++
			if begin, err = p.uint(); err != nil {
				return bad("data_offsets: %v", err)
			}
			if err := p.expect(',', "',' (data_offsets holds exactly two integers)"); err != nil {
				return bad("data_offsets: %v", err)
			}
			if end, err = p.uint(); err != nil {
				return bad("data_offsets: %v", err)
			}
			if err := p.expect(']', "']' (data_offsets holds exactly two integers)"); err != nil {
				return bad("data_offsets: %v", err)
			}
		default:
			if err := p.skip(0); err != nil {
				return bad("%q: %v", key, err)
			}
		}
		more, err := p.next('}')
		if err != nil {
			return bad("%v", err)
		}
		if !more {
			break
		}
	}
	switch {
	case have&haveDType == 0:
		return bad("entry has no dtype")
	case have&haveShape == 0:
		return bad("entry has no shape")
	case have&haveOffsets == 0:
		return bad("entry has no data_offsets")
	}
	return dims, begin, end, nil
}

// checkEntry checks one tensor's offsets against its shape, dtype and the
// data buffer, and fills Size.
func checkEntry(file string, t *formats.TensorInfo, begin, end, dataLen int64) error {
	size, err := t.DType.ByteSize(t.Shape)
	if err != nil {
		return corruptf(file, "tensor %q: %v shape %v: %v", t.Name, t.DType, t.Shape, unwrapSentinel(err))
	}
	switch {
	case begin > end:
		return corruptf(file, "tensor %q: data_offsets [%d, %d] begin after end", t.Name, begin, end)
	case end > dataLen:
		return corruptf(file, "tensor %q: data_offsets [%d, %d] run past the end of the data buffer (%d bytes; file truncated?)",
			t.Name, begin, end, dataLen)
	case end-begin != size:
		return corruptf(file, "tensor %q: data_offsets [%d, %d] hold %d bytes, but %v %v needs %d",
			t.Name, begin, end, end-begin, t.DType, t.Shape, size)
	}
	t.Size = size
	return nil
}

// checkCoverage sorts the tensors by offset (then name, so that empty
// tensors sharing an offset have a fixed order) and checks that they tile
// the data buffer exactly, as the reference does: each tensor begins where
// the previous one ended, and the last one ends at the end of the file.
// Empty tensors may therefore share an offset with each other and with the
// start of the next tensor, or sit at the very end.
func checkCoverage(file string, hd *header, dataStart, dataLen int64) error {
	ts := hd.tensors
	sorted := slices.IsSortedFunc(ts, compareTensors)
	if !sorted {
		slices.SortFunc(ts, compareTensors)
	}
	next := dataStart
	for i := range ts {
		t := &ts[i]
		if t.Offset != next {
			if t.Offset < next {
				return corruptf(file, "tensor %q: data_offsets [%d, %d] overlap tensor %q [%d, %d]",
					t.Name, t.Offset-dataStart, t.Offset-dataStart+t.Size,
					ts[i-1].Name, ts[i-1].Offset-dataStart, ts[i-1].Offset-dataStart+ts[i-1].Size)
			}
			return corruptf(file, "tensor %q: data_offsets [%d, %d] leave a hole of %d bytes at offset %d of the data buffer",
				t.Name, t.Offset-dataStart, t.Offset-dataStart+t.Size, t.Offset-next, next-dataStart)
		}
		next = t.Offset + t.Size
		if !sorted {
			hd.index[t.Name] = i
		}
	}
	if end := dataStart + dataLen; next != end {
		return corruptf(file, "%d bytes at the end of the data buffer belong to no tensor (data buffer %d bytes, tensors cover %d)",
			end-next, dataLen, next-dataStart)
	}
	return nil
}

func compareTensors(a, b formats.TensorInfo) int {
	if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Size, b.Size); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// unwrapSentinel drops the trailing ": corrupt or malformed input" of a
// formats error so that the wrapping error does not repeat it.
func unwrapSentinel(err error) string {
	s := err.Error()
	for _, sentinel := range []error{formats.ErrCorrupt, formats.ErrUnsupported} {
		s = strings.TrimSuffix(s, ": "+sentinel.Error())
	}
	return s
}

func dtypeList() string {
	names := make([]string, len(dtypes))
	for i, d := range dtypes {
		names[i] = d.String()
	}
	return strings.Join(names, ", ")
}
