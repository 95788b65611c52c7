package sqlfuncs

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"regexp"
	"sort"
)

//go:embed *.sql
var files embed.FS

// File is one SQL source file.
type File struct {
	Name string
	SQL  string
}

// Files returns the SQL files in installation order (by name).
func Files() []File {
	entries, err := fs.Glob(files, "*.sql")
	if err != nil {
		panic(err) // the pattern is constant; this cannot fail
	}
	sort.Strings(entries)
	out := make([]File, 0, len(entries))
	for _, name := range entries {
		b, err := files.ReadFile(name)
		if err != nil {
			panic(err)
		}
		out = append(out, File{Name: name, SQL: string(b)})
	}
	return out
}

// Checksum returns one SHA-256 over all files, so an installer can tell whether the
// functions in a database are the ones this binary carries.
func Checksum() string {
	h := sha256.New()
	for _, f := range Files() {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write([]byte(f.SQL))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

var (
	createFunction = regexp.MustCompile(`(?i)CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)`)
	createType     = regexp.MustCompile(`(?i)CREATE\s+TYPE\s+([a-z_][a-z0-9_]*)`)
)

// Names returns the functions and composite types the files define, so an
// installer can drop older versions (tasker-engine's functions of the same names
// have other signatures and return types) before creating these.
func Names() (functions, types []string) {
	for _, f := range Files() {
		for _, m := range createFunction.FindAllStringSubmatch(f.SQL, -1) {
			functions = append(functions, m[1])
		}
		for _, m := range createType.FindAllStringSubmatch(f.SQL, -1) {
			types = append(types, m[1])
		}
	}
	return functions, types
}
