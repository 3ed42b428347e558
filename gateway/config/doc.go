// Package config owns the gateway's configuration: the Go types of
// GopherMesh's config.json (read unchanged) plus warren's optional additions,
// a strict decoder whose errors name the field path
// (routes["8080"].backends[0].internal_port: ...), validation, defaults
// (Normalized, each default's reason next to its constant), the documented
// first-start file (DefaultDocument, WriteDefault), atomic saving, and the
// diff a reload needs (Compare, CompareRoute, Equal).
//
// Typical use:
//
//	cfg, created, err := config.LoadOrCreate(path) // strict: any error names its field
//	eff := cfg.Normalized()                         // every default filled in
//	d := config.Compare(old, cfg)                   // what a reload must touch
//
// Values are plain data: copy freely, Clone for a deep copy. Nothing here
// keeps state between calls, so it is safe for concurrent use.
package config
