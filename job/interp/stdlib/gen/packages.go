package main

// Packages are the standard library packages interpreted code can import in
// a full build: Yaegi's own list, plus what Go added since (iter, unique,
// weak, crypto/hkdf, crypto/mlkem, crypto/pbkdf2, crypto/sha3, ...). Left
// out: internal and vendored packages, unsafe, os/exec and plugin (they
// escape the job's sandbox), runtime/cgo, runtime/race, runtime/coverage,
// time/tzdata and the testing helpers that need a test binary.
var Packages = []string{
	"archive/tar", "archive/zip", "bufio", "bytes", "cmp",
	"compress/bzip2", "compress/flate", "compress/gzip", "compress/lzw", "compress/zlib",
	"container/heap", "container/list", "container/ring", "context",
	"crypto", "crypto/aes", "crypto/cipher", "crypto/des", "crypto/dsa", "crypto/ecdh", "crypto/ecdsa",
	"crypto/ed25519", "crypto/elliptic", "crypto/hkdf", "crypto/hmac", "crypto/hpke", "crypto/md5", "crypto/mlkem",
	"crypto/pbkdf2", "crypto/rand", "crypto/rc4", "crypto/rsa", "crypto/sha1", "crypto/sha256", "crypto/sha3",
	"crypto/sha512", "crypto/subtle", "crypto/tls", "crypto/x509", "crypto/x509/pkix",
	"database/sql", "database/sql/driver",
	"debug/buildinfo", "debug/dwarf", "debug/elf", "debug/gosym", "debug/macho", "debug/pe", "debug/plan9obj",
	"embed", "encoding", "encoding/ascii85", "encoding/asn1", "encoding/base32", "encoding/base64",
	"encoding/binary", "encoding/csv", "encoding/gob", "encoding/hex", "encoding/json", "encoding/pem", "encoding/xml",
	"errors", "expvar", "flag", "fmt",
	"go/ast", "go/build", "go/build/constraint", "go/constant", "go/doc", "go/doc/comment", "go/format",
	"go/importer", "go/parser", "go/printer", "go/scanner", "go/token", "go/types", "go/version",
	"hash", "hash/adler32", "hash/crc32", "hash/crc64", "hash/fnv", "hash/maphash",
	"html", "html/template", "image", "image/color", "image/color/palette", "image/draw", "image/gif",
	"image/jpeg", "image/png", "index/suffixarray",
	"io", "io/fs", "io/ioutil", "iter", "log", "log/slog", "log/syslog",
	"maps", "math", "math/big", "math/bits", "math/cmplx", "math/rand", "math/rand/v2",
	"mime", "mime/multipart", "mime/quotedprintable",
	"net", "net/http", "net/http/cgi", "net/http/cookiejar", "net/http/fcgi", "net/http/httptest",
	"net/http/httptrace", "net/http/httputil", "net/http/pprof", "net/mail", "net/netip", "net/rpc",
	"net/rpc/jsonrpc", "net/smtp", "net/textproto", "net/url",
	"os", "os/signal", "os/user", "path", "path/filepath", "reflect", "regexp", "regexp/syntax",
	"runtime", "runtime/debug", "runtime/metrics", "runtime/pprof", "runtime/trace",
	"slices", "sort", "strconv", "strings", "structs", "sync", "sync/atomic",
	"testing", "testing/fstest", "testing/iotest", "testing/quick", "testing/slogtest",
	"text/scanner", "text/tabwriter", "text/template", "text/template/parse",
	"time", "unicode", "unicode/utf16", "unicode/utf8", "unique", "weak",
}

// Lite is what a lite build links: what a device program typically uses.
var Lite = []string{
	"bufio", "bytes", "cmp", "container/heap", "container/list", "context",
	"crypto/rand", "crypto/sha256", "encoding", "encoding/base64", "encoding/binary", "encoding/hex", "encoding/json",
	"errors", "flag", "fmt", "hash", "hash/crc32", "io", "io/fs", "iter", "log", "log/slog",
	"maps", "math", "math/bits", "math/rand", "math/rand/v2", "net", "net/http", "net/netip", "net/url",
	"os", "os/signal", "path", "path/filepath", "reflect", "regexp", "slices", "sort",
	"strconv", "strings", "sync", "sync/atomic", "time", "unicode", "unicode/utf8", "unique",
}

// SyscallArches are the linux architectures syscall tables are generated for.
var SyscallArches = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64le", "riscv64", "s390x"}
