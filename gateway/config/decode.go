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
// the path of any error. null leaves v at its zero value.
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
		for _, m := range ms {
			idx, ok := fields[m.key]
			if !ok {
				return fieldErr(join(path, m.key), "unknown field (known: %s)", knownFields(v.Type()))
			}
			if err := decodeValue(join(path, m.key), m.raw, v.Field(idx)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		ms, err := members(path, raw)
		if err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(v.Type(), len(ms))
		for _, mb := range ms {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(path+"["+strconv.Quote(mb.key)+"]", mb.raw, e); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(mb.key).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return nil
	case reflect.Slice:
		if k != '[' {
			return fieldErr(path, "want an array, got %s", describe(raw))
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fieldErr(path, "%v", err)
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := decodeValue(fmt.Sprintf("%s[%d]", path, i), it, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
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

func knownFields(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}
