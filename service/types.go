package service

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"
)

// The type registry is the package's one init-time registry (like
// encoding/gob's): the types and errors that may cross a process boundary,
// by wire name. Reads are lock-free (copy-on-write snapshot).

type typeInfo struct {
	name  string
	base  reflect.Type // the non-pointer type
	ptrTo reflect.Type // *base: a receiver's destination decoded into in place
	ptr   bool         // decode as *base
}

type typeTable struct {
	byName   map[string]*typeInfo
	byType   map[reflect.Type]*typeInfo // base type
	errs     []error                    // registered sentinels
	errNames map[string]error
}

var (
	regMu sync.Mutex
	// reg is set up in its initializer, which runs before any init function.
	reg = func() *atomic.Pointer[typeTable] {
		p := new(atomic.Pointer[typeTable])
		p.Store(&typeTable{byName: map[string]*typeInfo{}, byType: map[reflect.Type]*typeInfo{}, errNames: map[string]error{}})
		return p
	}()
)

func init() {
	RegisterType("", false, 0, int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0),
		uint32(0), uint64(0), float32(0), float64(0), []byte(nil), []string(nil), map[string]string(nil), map[string]any(nil), []any(nil))
}

func (t *typeTable) clone() *typeTable {
	n := &typeTable{byName: make(map[string]*typeInfo, len(t.byName)+1), byType: make(map[reflect.Type]*typeInfo, len(t.byType)+1),
		errs: append([]error(nil), t.errs...), errNames: make(map[string]error, len(t.errNames)+1)}
	for k, v := range t.byName {
		n.byName[k] = v
	}
	for k, v := range t.byType {
		n.byType[k] = v
	}
	for k, v := range t.errNames {
		n.errNames[k] = v
	}
	return n
}

// RegisterType registers the types of the given values as messages that
// may cross a process boundary (OS, LAN, WAN scopes). Register T{} to
// receive values of T, or &T{} to receive *T (needed when T's Handle method
// has a pointer receiver). The wire name is the Go type's name with its
// package name ("main.Req"); use RegisterName to choose another.
// RegisterType panics on a nil value, an unnamed composite type or a name
// already used by a different type, like encoding/gob.Register.
// Registering the same type again is a no-op.
func RegisterType(values ...any) {
	for _, v := range values {
		if v == nil {
			panic("service: RegisterType(nil)")
		}
		t := reflect.TypeOf(v)
		base := t
		if t.Kind() == reflect.Pointer {
			base = t.Elem()
		}
		name := base.String()
		if base.Name() == "" && base.Kind() == reflect.Struct {
			panic(fmt.Sprintf("service: RegisterType(%s): unnamed struct type; use RegisterName", t))
		}
		RegisterName(name, v)
	}
}

// RegisterName registers v's type under an explicit wire name (at most 255
// bytes, no control characters), for cross-language clients or types
// without a Go name (interpreted code).
func RegisterName(name string, v any) {
	if v == nil {
		panic("service: RegisterName(nil)")
	}
	if name == "" || len(name) > 255 {
		panic(fmt.Sprintf("service: RegisterName(%q): name must be 1..255 bytes", name))
	}
	t := reflect.TypeOf(v)
	ti := &typeInfo{name: name, base: t, ptrTo: reflect.PointerTo(t)}
	if t.Kind() == reflect.Pointer {
		ti.base, ti.ptr = t.Elem(), true
	}
	regMu.Lock()
	defer regMu.Unlock()
	cur := reg.Load()
	if old, ok := cur.byName[name]; ok {
		if old.base != ti.base {
			panic(fmt.Sprintf("service: RegisterName(%q): already used by %s", name, old.base))
		}
		return
	}
	if old, ok := cur.byType[ti.base]; ok {
		if old.name != name {
			panic(fmt.Sprintf("service: RegisterName(%q): %s already registered as %q", name, ti.base, old.name))
		}
		return
	}
	n := cur.clone()
	n.byName[name] = ti
	n.byType[ti.base] = ti
	reg.Store(n)
}

// RegisterError registers sentinel errors (errors.New values) so that a
// handler's error wrapping one of them satisfies errors.Is on the client.
// The wire identity of a sentinel is its message, which must be unique.
// To make an error *type* cross the wire (for errors.As), register a value
// of it with RegisterType.
func RegisterError(errs ...error) {
	regMu.Lock()
	defer regMu.Unlock()
	n := reg.Load().clone()
	for _, e := range errs {
		if e == nil {
			panic("service: RegisterError(nil)")
		}
		if old, ok := n.errNames[e.Error()]; ok {
			if old != e {
				panic(fmt.Sprintf("service: RegisterError(%q): another error has that message", e.Error()))
			}
			continue
		}
		n.errNames[e.Error()] = e
		n.errs = append(n.errs, e)
	}
	reg.Store(n)
}

func lookupType(t reflect.Type) *typeInfo {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return reg.Load().byType[t]
}

func lookupName(b []byte) *typeInfo { return reg.Load().byName[string(b)] }

var (
	encMode cbor.UserBufferEncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{}.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// decodeMsg decodes a message payload of a registered type into a new
// variable and returns a pointer to it; byPtr says the message is the
// pointed-to value (the type was registered as a value), which saves
// copying it into an interface (an allocation) where the receiver can take
// it from the pointer.
func decodeMsg(ti *typeInfo, payload []byte) (p any, byPtr bool, err error) {
	rp := reflect.New(ti.base)
	p = rp.Interface()
	if err := decMode.Unmarshal(payload, p); err != nil {
		return nil, false, err
	}
	return p, !ti.ptr, nil
}

// decodeValue decodes a payload of a registered type.
func decodeValue(ti *typeInfo, payload []byte) (any, error) {
	p := reflect.New(ti.base)
	if err := decMode.Unmarshal(payload, p.Interface()); err != nil {
		return nil, err
	}
	if ti.ptr {
		return p.Interface(), nil
	}
	return p.Elem().Interface(), nil
}

// errRecord is the payload of KindErr and KindGoAway frames.
type errRecord struct {
	Msg      string          `cbor:"m"`           // err.Error()
	Sentinel string          `cbor:"s,omitempty"` // message of a registered sentinel in the chain
	Type     string          `cbor:"t,omitempty"` // wire name of a registered error type in the chain
	Value    cbor.RawMessage `cbor:"v,omitempty"` // that error value
}

func toErrRecord(err error) errRecord {
	rec := errRecord{Msg: err.Error()}
	tt := reg.Load()
	for _, s := range tt.errs {
		if errors.Is(err, s) {
			rec.Sentinel = s.Error()
			break
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if re, ok := e.(*RemoteError); ok && re.Err == nil {
			continue
		}
		if ti := tt.byType[baseType(reflect.TypeOf(e))]; ti != nil {
			if b, err := encMode.Marshal(e); err == nil {
				rec.Type, rec.Value = ti.name, b
			}
			break
		}
	}
	return rec
}

func baseType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}

func fromErrRecord(rec errRecord) error {
	tt := reg.Load()
	re := &RemoteError{Msg: rec.Msg}
	if rec.Type != "" {
		if ti := tt.byName[rec.Type]; ti != nil {
			if v, err := decodeValue(ti, rec.Value); err == nil {
				if e, ok := v.(error); ok {
					re.Err = e
				}
			}
		}
	}
	if re.Err == nil && rec.Sentinel != "" {
		re.Err = tt.errNames[rec.Sentinel]
	}
	return re
}
