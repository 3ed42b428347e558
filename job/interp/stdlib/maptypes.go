// Copied from github.com/traefik/yaegi v0.16.1 stdlib (Apache License 2.0):
// the generated tables refer to these helpers by name.

package stdlib

import (
	"encoding"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log"
	"reflect"
)

func init() { loaders = append(loaders, loadMapTypes) }

// loadMapTypes fills mapTypes (see Symbols).
func loadMapTypes() {
	// warren: error comes before Stringer, as in fmt's own order
	// (Formatter, error, Stringer), so an interpreted error type prints
	// through Error() and fmt.Errorf's %w sees an error.
	mt := []reflect.Type{
		reflect.TypeOf((*fmt.Formatter)(nil)).Elem(),
		reflect.TypeOf((*error)(nil)).Elem(),
		reflect.TypeOf((*fmt.Stringer)(nil)).Elem(),
	}

	mapTypes[reflect.ValueOf(fmt.Errorf)] = mt
	mapTypes[reflect.ValueOf(fmt.Fprint)] = mt
	mapTypes[reflect.ValueOf(fmt.Fprintf)] = mt
	mapTypes[reflect.ValueOf(fmt.Fprintln)] = mt
	mapTypes[reflect.ValueOf(fmt.Print)] = mt
	mapTypes[reflect.ValueOf(fmt.Printf)] = mt
	mapTypes[reflect.ValueOf(fmt.Println)] = mt
	mapTypes[reflect.ValueOf(fmt.Sprint)] = mt
	mapTypes[reflect.ValueOf(fmt.Sprintf)] = mt
	mapTypes[reflect.ValueOf(fmt.Sprintln)] = mt

	mapTypes[reflect.ValueOf(log.Fatal)] = mt
	mapTypes[reflect.ValueOf(log.Fatalf)] = mt
	mapTypes[reflect.ValueOf(log.Fatalln)] = mt
	mapTypes[reflect.ValueOf(log.Panic)] = mt
	mapTypes[reflect.ValueOf(log.Panicf)] = mt
	mapTypes[reflect.ValueOf(log.Panicln)] = mt

	mt = []reflect.Type{reflect.TypeOf((*fmt.Scanner)(nil)).Elem()}

	mapTypes[reflect.ValueOf(fmt.Scan)] = mt
	mapTypes[reflect.ValueOf(fmt.Scanf)] = mt
	mapTypes[reflect.ValueOf(fmt.Scanln)] = mt

	mapTypes[reflect.ValueOf(json.Marshal)] = []reflect.Type{
		reflect.TypeOf((*json.Marshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem(),
	}
	mapTypes[reflect.ValueOf(json.Unmarshal)] = []reflect.Type{
		reflect.TypeOf((*json.Unmarshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem(),
	}
	mapTypes[reflect.ValueOf(xml.Marshal)] = []reflect.Type{
		reflect.TypeOf((*xml.Marshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem(),
	}
	mapTypes[reflect.ValueOf(xml.Unmarshal)] = []reflect.Type{
		reflect.TypeOf((*xml.Unmarshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem(),
	}
}
