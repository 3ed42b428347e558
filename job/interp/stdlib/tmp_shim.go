package stdlib

import ys "github.com/traefik/yaegi/stdlib"

var Symbols = ys.Symbols
var MapTypes = ys.MapTypes
