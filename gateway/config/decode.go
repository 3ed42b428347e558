package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every decoding and validation error.
var ErrInvalid = errors.New("invalid config")

// FieldError is a problem at one place in a config document. Path is the
// field's path in JSON terms: routes["8080"].backends[0].internal_port.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

type msgError string

func (e msgError) Error() string { return string(e) }

func errFmt(format string, a ...any) error { return msgError(fmt.Sprintf(format, a...)) }

func fieldErr(path, format string, a ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, a...)}
}

// MaxSize is the largest config document Decode accepts.
const MaxSize = 4 << 20

// Decode parses a config document strictly and validates it. Unknown fields,
// duplicate keys, values of the wrong type, trailing data and every failed
// Validate rule are errors naming the field path. Keys beginning with "//"
// are comments. The result is as written (defaults are not filled in; see
// Normalized).
func Decode(data []byte) (Config, error) {
	var c Config
	if len(data) > MaxSize {
		return c, fieldErr("", "config is %d bytes, more than the %d allowed", len(data), MaxSize)
	}
	// A UTF-8 byte order mark, which some Windows editors write, is not
	// JSON but says nothing: skip it (it gave "invalid character 'ï'").
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Config{}, syntaxErr(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, fieldErr("", "unexpected data after the config object")
	}
	if kindOf(raw) != '{' {
		return Config{}, fieldErr("", "want a JSON object, got %s", describe(raw))
	}
	if err := decodeValue("", raw, reflect.ValueOf(&c).Elem()); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func syntaxErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fieldErr("", "JSON syntax error at line %d, column %d: %s", line, col, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr("", "JSON ends early (empty or truncated document)")
	}
	return fieldErr("", "JSON: %v", err)
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// kindOf returns the first significant byte of a JSON value: { [ " t f n or a digit/-.
func kindOf(raw []byte) byte {
	s := bytes.TrimLeft(raw, " \t\r\n")
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

func describe(raw []byte) string {
	switch k := kindOf(raw); k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	default:
		return "a number"
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type member struct {
	key string
	raw json.RawMessage
}

// members reads a JSON object's members in order, refusing duplicate keys and
// skipping "//" comment keys.
func members(path string, raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fieldErr(path, "want an object, got %s", describe(raw))
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fieldErr(path, "bad object: %v", err)
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fieldErr(path, "bad object: %v", err)
		}
		if strings.HasPrefix(k, "//") {
			continue
		}
		if seen[k] {
			return nil, fieldErr(path, "duplicate key %q", k)
		}
		seen[k] = true
		out = append(out, member{k, v})
	}
	return out, nil
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// decodeValue decodes raw into v, refusing unknown struct fields and naming
// the path of any error. null leaves v at its zero value. A problem in one
// member does not stop the others: every one found is returned (joined),
// so a file with three typos is fixed in one round, not three.
func decodeValue(path string, raw json.RawMessage, v reflect.Value) error {
	k := kindOf(raw)
	if k == 'n' {
		v.SetZero()
		return nil
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		if k != '"' {
			return fieldErr(path, "want a string, got %s", describe(raw))
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fieldErr(path, "%v", err)
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return fieldErr(path, "%v", err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(path, raw, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		ms, err := members(path, raw)
		if err != nil {
			return err
		}
		fields := structFields(v.Type())
		var errs []error
		for _, m := range ms {
			idx, ok := fields[m.key]
			if !ok {
				errs = append(errs, unknownField(join(path, m.key), m.key, v.Type()))
				continue
			}
			errs = appendErr(errs, decodeValue(join(path, m.key), m.raw, v.Field(idx)))
		}
		return joinErrs(errs)
	case reflect.Map:
		ms, err := members(path, raw)
		if err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(v.Type(), len(ms))
		var errs []error
		for _, mb := range ms {
			e := reflect.New(v.Type().Elem()).Elem()
			errs = appendErr(errs, decodeValue(path+"["+strconv.Quote(mb.key)+"]", mb.raw, e))
			m.SetMapIndex(reflect.ValueOf(mb.key).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return joinErrs(errs)
	case reflect.Slice:
		if k != '[' {
			return fieldErr(path, "want an array, got %s", describe(raw))
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fieldErr(path, "%v", err)
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		var errs []error
		for i, it := range items {
			errs = appendErr(errs, decodeValue(fmt.Sprintf("%s[%d]", path, i), it, s.Index(i)))
		}
		v.Set(s)
		return joinErrs(errs)
	case reflect.String:
		if k != '"' {
			return fieldErr(path, "want a string, got %s", describe(raw))
		}
	case reflect.Bool:
		if k != 't' && k != 'f' {
			return fieldErr(path, "want true or false, got %s", describe(raw))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if k == '"' || k == '{' || k == '[' || k == 't' || k == 'f' {
			return fieldErr(path, "want an integer, got %s", describe(raw))
		}
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fieldErr(path, "want %s, got %s %s", te.Type, te.Value, strings.TrimSpace(string(raw)))
		}
		return fieldErr(path, "%v", err)
	}
	return nil
}

func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		m[name] = i
	}
	return m
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name
}

// appendErr adds err to errs, flattening a joined error so the result
// stays a flat list of *FieldError (errors.As finds the first).
func appendErr(errs []error, err error) []error {
	if err == nil {
		return errs
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return append(errs, j.Unwrap()...)
	}
	return append(errs, err)
}

func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// unknownField names the fields a struct knows, and the one most likely
// meant when the key is a near miss ("internal_prot").
func unknownField(path, key string, t reflect.Type) *FieldError {
	if near := nearest(key, fieldNames(t)); near != "" {
		return fieldErr(path, "unknown field; did you mean %q? (known: %s)", near, knownFields(t))
	}
	return fieldErr(path, "unknown field (known: %s)", knownFields(t))
}

// nearest returns the name closest to key by edit distance, if it is
// close enough to be a typo (at most 2 edits, and fewer than half the
// key's length, so "x" does not suggest "cmd"); "" otherwise.
func nearest(key string, names []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(key)
	for _, n := range names {
		d := editDistance(lk, strings.ToLower(n))
		if d < bestD && 2*d < len(key) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b
// (Levenshtein with a swap of two neighbours counting one edit, the
// commonest typo: "cdm"), by bytes: config keys are ASCII.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j]; three rows suffice.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func knownFields(t reflect.Type) string { return strings.Join(fieldNames(t), ", ") }
