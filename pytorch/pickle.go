package pytorch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// This file holds a small pickle virtual machine that understands exactly
// the subset of the protocol torch.save writes for a state dict (protocols
// 2 to 5): containers, scalars, strings, memo operations, GLOBAL, REDUCE,
// BUILD and persistent ids. Every length is checked against the bytes left
// in the input before anything is allocated, so a hostile file can cost at
// most a few times its own size in memory.
//
// github.com/nlpodyssey/gopickle was evaluated for this job and not used: its
// reader allocates whatever length a BINBYTES8 or FRAME opcode claims before
// reading it, so a 20-byte file can ask for terabytes, and it resolves any
// GLOBAL to a generic object instead of refusing unknown callables.

// pyGlobal is a callable or class named by a GLOBAL opcode.
type pyGlobal struct{ module, name string }

// pyTuple, pyList and pyDict mirror the Python containers. pyDict keeps the
// insertion order, as the OrderedDict of a state dict does.
type (
	pyTuple []any
	pyList  []any
	pyDict  struct {
		keys []any
		vals map[any]any
	}
	pyMark struct{}
	pyNone struct{}
)

func newDict() *pyDict { return &pyDict{vals: map[any]any{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, float64, pyNone:
	default:
		return fmt.Errorf("unhashable dict key of type %T", k)
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return nil
}

// storageRef is what a persistent id ('storage', type, key, location, numel)
// resolves to.
type storageRef struct {
	dtype dtype
	key   string
	numel int64
}

// tensorRef is the result of torch._utils._rebuild_tensor_v2: a strided view
// into a storage, not yet read.
type tensorRef struct {
	storage storageRef
	offset  int64
	size    []int64
	stride  []int64
}

// maxStack bounds the VM stacks; a state dict needs a depth of about ten.
const maxStack = 1 << 16

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[int64]any

	persistentLoad func(pyTuple) (any, error)
}

var errTruncated = errors.New("pickle: truncated input")

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errTruncated
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStack {
		return errors.New("pickle: stack too deep")
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("pickle: stack underflow")
	}
	if len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack) {
		return nil, errors.New("pickle: pop across mark")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("pickle: empty stack")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("pickle: no mark")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) popN(n int) ([]any, error) {
	if n > len(u.stack) || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
		return nil, errors.New("pickle: stack underflow")
	}
	items := append([]any(nil), u.stack[len(u.stack)-n:]...)
	u.stack = u.stack[:len(u.stack)-n]
	return items, nil
}

func (u *unpickler) memoPut(i int64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if i < 0 {
		return errors.New("pickle: negative memo index")
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i int64) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("pickle: memo %d not defined", i)
	}
	return u.push(v)
}

// run executes the pickle and returns the object left by STOP.
func (u *unpickler) run() (any, error) {
	u.memo = map[int64]any{}
	for {
		if u.pos >= len(u.data) {
			return nil, errTruncated
		}
		op := u.data[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var b []byte
			if b, err = u.take(1); err == nil && b[0] > 5 {
				err = fmt.Errorf("pickle: unsupported protocol %d", b[0])
			}
		case 0x95: // FRAME: frames are only a buffering hint
			_, err = u.take(8)
		case '.': // STOP
			return u.pop()
		case '(': // MARK
			if len(u.marks) >= maxStack {
				return nil, errors.New("pickle: too many marks")
			}
			u.marks = append(u.marks, len(u.stack))
		case '0': // POP
			_, err = u.pop()
		case '1': // POP_MARK
			_, err = u.popMark()
		case '2': // DUP
			var v any
			if v, err = u.top(); err == nil {
				err = u.push(v)
			}
		case 'N':
			err = u.push(pyNone{})
		case 0x88:
			err = u.push(true)
		case 0x89:
			err = u.push(false)
		case 'J': // BININT
			var b []byte
			if b, err = u.take(4); err == nil {
				err = u.push(int64(int32(binary.LittleEndian.Uint32(b))))
			}
		case 'K': // BININT1
			var b []byte
			if b, err = u.take(1); err == nil {
				err = u.push(int64(b[0]))
			}
		case 'M': // BININT2
			var b []byte
			if b, err = u.take(2); err == nil {
				err = u.push(int64(binary.LittleEndian.Uint16(b)))
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			err = u.long(op)
		case 'I', 'L': // INT, LONG (text)
			var s string
			if s, err = u.line(); err == nil {
				err = u.textInt(s)
			}
		case 'G': // BINFLOAT, big endian
			var b []byte
			if b, err = u.take(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e: // strings and bytes
			err = u.str(op)
		case ')':
			err = u.push(pyTuple{})
		case 0x85, 0x86, 0x87: // TUPLE1..3
			var items []any
			if items, err = u.popN(int(op - 0x84)); err == nil {
				err = u.push(pyTuple(items))
			}
		case 't':
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(pyTuple(items))
			}
		case ']':
			err = u.push(&pyList{})
		case 'l':
			var items []any
			if items, err = u.popMark(); err == nil {
				l := pyList(items)
				err = u.push(&l)
			}
		case 'a', 'e': // APPEND, APPENDS
			err = u.appends(op == 'e')
		case '}':
			err = u.push(newDict())
		case 'd':
			var items []any
			if items, err = u.popMark(); err == nil {
				d := newDict()
				if err = setItems(d, items); err == nil {
					err = u.push(d)
				}
			}
		case 's', 'u': // SETITEM, SETITEMS
			err = u.setItems(op == 'u')
		case 0x8f: // EMPTY_SET: kept as a list, never looked at
			err = u.push(&pyList{})
		case 0x90: // ADDITEMS
			_, err = u.popMark()
		case 'q':
			var b []byte
			if b, err = u.take(1); err == nil {
				err = u.memoPut(int64(b[0]))
			}
		case 'r':
			var b []byte
			if b, err = u.take(4); err == nil {
				err = u.memoPut(int64(binary.LittleEndian.Uint32(b)))
			}
		case 0x94: // MEMOIZE
			err = u.memoPut(int64(len(u.memo)))
		case 'h':
			var b []byte
			if b, err = u.take(1); err == nil {
				err = u.memoGet(int64(b[0]))
			}
		case 'j':
			var b []byte
			if b, err = u.take(4); err == nil {
				err = u.memoGet(int64(binary.LittleEndian.Uint32(b)))
			}
		case 'p', 'g': // PUT, GET (text)
			var s string
			if s, err = u.line(); err == nil {
				var i int64
				if i, err = strconv.ParseInt(s, 10, 64); err == nil {
					if op == 'p' {
						err = u.memoPut(i)
					} else {
						err = u.memoGet(i)
					}
				}
			}
		case 'c': // GLOBAL "module\nname\n"
			var mod, name string
			if mod, err = u.line(); err == nil {
				if name, err = u.line(); err == nil {
					err = u.push(pyGlobal{mod, name})
				}
			}
		case 0x93: // STACK_GLOBAL
			var items []any
			if items, err = u.popN(2); err == nil {
				mod, ok1 := items[0].(string)
				name, ok2 := items[1].(string)
				if !ok1 || !ok2 {
					err = errors.New("pickle: STACK_GLOBAL needs two strings")
				} else {
					err = u.push(pyGlobal{mod, name})
				}
			}
		case 'R': // REDUCE
			var items []any
			if items, err = u.popN(2); err == nil {
				var v any
				if v, err = call(items[0], items[1]); err == nil {
					err = u.push(v)
				}
			}
		case 0x81: // NEWOBJ
			var items []any
			if items, err = u.popN(2); err == nil {
				var v any
				if v, err = call(items[0], items[1]); err == nil {
					err = u.push(v)
				}
			}
		case 'b': // BUILD: state on an OrderedDict (its _metadata) is dropped
			var items []any
			if items, err = u.popN(2); err == nil {
				err = u.push(items[0])
			}
		case 'Q': // BINPERSID
			var pid any
			if pid, err = u.pop(); err == nil {
				t, ok := pid.(pyTuple)
				if !ok || u.persistentLoad == nil {
					err = errors.New("pickle: unsupported persistent id")
				} else {
					var v any
					if v, err = u.persistentLoad(t); err == nil {
						err = u.push(v)
					}
				}
			}
		default:
			err = fmt.Errorf("pickle: unsupported opcode 0x%02x at offset %d", op, u.pos-1)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) long(op byte) error {
	n := 0
	if op == 0x8a {
		b, err := u.take(1)
		if err != nil {
			return err
		}
		n = int(b[0])
	} else {
		b, err := u.take(4)
		if err != nil {
			return err
		}
		n = int(int32(binary.LittleEndian.Uint32(b)))
	}
	if n > 8 {
		return errors.New("pickle: integer wider than 64 bits")
	}
	b, err := u.take(n)
	if err != nil {
		return err
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n > 0 && n < 8 && b[n-1]&0x80 != 0 { // sign-extend two's complement
		v |= ^uint64(0) << (8 * n)
	}
	return u.push(int64(v))
}

func (u *unpickler) textInt(s string) error {
	switch s {
	case "00":
		return u.push(false)
	case "01":
		return u.push(true)
	}
	if len(s) > 0 && s[len(s)-1] == 'L' {
		s = s[:len(s)-1]
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("pickle: bad integer %q", s)
	}
	return u.push(i)
}

func (u *unpickler) str(op byte) error {
	var n int
	switch op {
	case 'X', 'T': // 4-byte length
		b, err := u.take(4)
		if err != nil {
			return err
		}
		n = int(binary.LittleEndian.Uint32(b))
	case 0x8c, 'U', 'C': // 1-byte length
		b, err := u.take(1)
		if err != nil {
			return err
		}
		n = int(b[0])
	case 'B', 0x8e: // BINBYTES (4), BINBYTES8
		w := 4
		if op == 0x8e {
			w = 8
		}
		b, err := u.take(w)
		if err != nil {
			return err
		}
		var l uint64
		if w == 4 {
			l = uint64(binary.LittleEndian.Uint32(b))
		} else {
			l = binary.LittleEndian.Uint64(b)
		}
		if l > uint64(len(u.data)) {
			return errTruncated
		}
		n = int(l)
	case 0x8d: // BINUNICODE8
		b, err := u.take(8)
		if err != nil {
			return err
		}
		l := binary.LittleEndian.Uint64(b)
		if l > uint64(len(u.data)) {
			return errTruncated
		}
		n = int(l)
	}
	b, err := u.take(n)
	if err != nil {
		return err
	}
	return u.push(string(b))
}

func (u *unpickler) appends(many bool) error {
	var items []any
	var err error
	if many {
		items, err = u.popMark()
	} else {
		items, err = u.popN(1)
	}
	if err != nil {
		return err
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return errors.New("pickle: APPEND to a non-list")
	}
	*l = append(*l, items...)
	return nil
}

func (u *unpickler) setItems(many bool) error {
	var items []any
	var err error
	if many {
		items, err = u.popMark()
	} else {
		items, err = u.popN(2)
	}
	if err != nil {
		return err
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return errors.New("pickle: SETITEM on a non-dict")
	}
	return setItems(d, items)
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("pickle: odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// call applies one of the few callables a state dict uses. Anything else is
// refused: a checkpoint is data, and an unknown callable means the file is
// not a plain state dict.
func call(fn, args any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("pickle: call of non-callable %T", fn)
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, errors.New("pickle: call arguments are not a tuple")
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
		if len(a) != 0 {
			return nil, errors.New("pickle: OrderedDict with arguments")
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		return rebuildTensor(a)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(a) < 1 {
			return nil, errors.New("pickle: _rebuild_parameter without data")
		}
		if _, ok := a[0].(*tensorRef); !ok {
			return nil, errors.New("pickle: _rebuild_parameter of a non-tensor")
		}
		return a[0], nil
	}
	return nil, fmt.Errorf("pickle: unsupported callable %s.%s", g.module, g.name)
}

// rebuildTensor checks the arguments of
// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, ...).
func rebuildTensor(a pyTuple) (any, error) {
	if len(a) < 4 {
		return nil, errors.New("pickle: _rebuild_tensor needs storage, offset, size, stride")
	}
	st, ok := a[0].(storageRef)
	if !ok {
		return nil, errors.New("pickle: tensor without storage")
	}
	off, ok := a[1].(int64)
	if !ok {
		return nil, errors.New("pickle: tensor offset is not an integer")
	}
	size, err := intTuple(a[2])
	if err != nil {
		return nil, fmt.Errorf("pickle: tensor size: %w", err)
	}
	stride, err := intTuple(a[3])
	if err != nil {
		return nil, fmt.Errorf("pickle: tensor stride: %w", err)
	}
	if len(size) != len(stride) {
		return nil, errors.New("pickle: size and stride differ in rank")
	}
	return &tensorRef{storage: st, offset: off, size: size, stride: stride}, nil
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, errors.New("not a tuple")
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, errors.New("not an integer")
		}
		out[i] = n
	}
	return out, nil
}
