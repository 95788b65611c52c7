package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docs/ffi.md is the C API's reference. These tests hold it to the code: every
// //export of capi/, every operation registered in the operations map (from
// ops.go and every file that adds to it in init), and every error Kind of
// core/errs has its row, and no row names something that does not exist. They
// read the sources, so a new export, operation or kind fails here until it is
// documented.

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return string(b)
}

// capiExports returns the names of capi/*.go's //export lines.
func capiExports(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "capi", "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	re := regexp.MustCompile(`(?m)^//export (\w+)\s*$`)
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// lifecycleExports are the exports that are no operation of a client handle.
var lifecycleExports = map[string]bool{"tasker_free_string": true, "tasker_version": true, "tasker_noop": true,
	"tasker_client_new": true, "tasker_client_free": true}

// registeredOperations lists the operations map, without the ones tests add.
func registeredOperations() []string {
	var out []string
	for name := range operations {
		if !strings.HasSuffix(name, "_for_test") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// section returns the text of docs/ffi.md from the heading that starts with
// title to the next heading of the same level.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	i := strings.Index(doc, "\n## "+title)
	require.GreaterOrEqual(t, i, 0, "docs/ffi.md has no section %q", title)
	rest := doc[i+1:]
	if j := strings.Index(rest[3:], "\n## "); j >= 0 {
		rest = rest[:j+3]
	}
	return rest
}

// firstTable returns the rows of the first Markdown table in text.
func firstTable(text string) []string {
	var rows []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "|") {
			rows = append(rows, line)
		} else if len(rows) > 0 {
			break
		}
	}
	return rows
}

var backticked = regexp.MustCompile("`([^`]+)`")

// firstCellNames returns the backticked words of each row's first cell (a
// Lifecycle row's first cell is a C signature: its function name is taken).
func firstCellNames(rows []string) []string {
	sig := regexp.MustCompile(`^(?:const\s+)?\w+\s*\*?\s*(\w+)\(`)
	var out []string
	for _, row := range rows {
		cells := strings.Split(row, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			name := m[1]
			if s := sig.FindStringSubmatch(name); s != nil {
				name = s[1]
			}
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestFFIDocListsEveryExport(t *testing.T) {
	doc := readRepoFile(t, "docs/ffi.md")
	exports := capiExports(t)
	require.Greater(t, len(exports), 20, "the //export parser found too few: %v", exports)

	var lifecycle, ops []string
	for _, e := range exports {
		if lifecycleExports[e] {
			lifecycle = append(lifecycle, e)
		} else {
			ops = append(ops, e)
		}
	}
	assert.Len(t, lifecycle, len(lifecycleExports), "a lifecycle export was renamed or removed")
	assert.Equal(t, lifecycle, firstCellNames(firstTable(section(t, doc, "Lifecycle"))),
		"docs/ffi.md's Lifecycle table must list exactly capi's lifecycle exports")
	assert.Equal(t, ops, firstCellNames(firstTable(section(t, doc, "Operations"))),
		"docs/ffi.md's Operations table must list exactly capi's operation exports")
}

func TestEveryOperationIsExportedAndEveryExportIsAnOperation(t *testing.T) {
	var ops []string
	for _, e := range capiExports(t) {
		if !lifecycleExports[e] {
			ops = append(ops, e)
		}
	}
	assert.Equal(t, registeredOperations(), ops,
		"core/api's operations and capi's exports differ: an operation without an export cannot be called from C, "+
			"an export without an operation answers validation_error")
	for _, name := range ops {
		assert.Contains(t, Methods(), name)
	}
}

// errsKinds parses core/errs/errs.go for the constants of type Kind.
func errsKinds(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "errs", "errs.go"), nil, 0)
	require.NoError(t, err)
	var kinds []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				require.True(t, ok, "a Kind constant that is not a string literal")
				s, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				kinds = append(kinds, s)
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}

// The parser must find the kinds everyone knows, so a change to errs.go's shape
// cannot make this test pass vacuously.
func TestFFIDocErrorTableHasEveryKind(t *testing.T) {
	kinds := errsKinds(t)
	require.Subset(t, kinds, []string{"validation_error", "not_found", "internal_error", "ffi_error"})
	doc := readRepoFile(t, "docs/ffi.md")
	i := strings.Index(doc, "Error `type`s")
	require.GreaterOrEqual(t, i, 0, "docs/ffi.md has no error type table")
	assert.Equal(t, kinds, firstCellNames(firstTable(doc[i:])),
		"docs/ffi.md's error table must list exactly core/errs' kinds")
}

// topLevelKeys returns the keys of the first {...} of a payload cell, those at
// its top level only ("reports": [{"step_id"…}] gives reports).
func topLevelKeys(cell string) []string {
	start := strings.Index(cell, "{")
	if start < 0 {
		return nil
	}
	var keys []string
	depth := 0
	for i := start; i < len(cell); i++ {
		switch c := cell[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return keys
			}
		case '"':
			end := strings.IndexByte(cell[i+1:], '"')
			if end < 0 {
				return keys
			}
			word := cell[i+1 : i+1+end]
			i += end + 1
			before := strings.TrimRight(cell[:i-end-1], " ")
			if depth == 1 && strings.HasSuffix(before, "{") || depth == 1 && strings.HasSuffix(before, ",") {
				keys = append(keys, word)
			}
		}
	}
	return keys
}

// Every payload field the Operations table documents is one the operation
// decodes: sending each with a null value never gets "unknown field" (the
// decoder is strict, so a renamed or removed field is caught). The values are
// null, so nothing required is present and nothing is written.
func TestFFIDocPayloadFieldsExist(t *testing.T) {
	c := openClient(t, "")
	doc := readRepoFile(t, "docs/ffi.md")
	checked := 0
	for _, row := range firstTable(section(t, doc, "Operations")) {
		cells := strings.Split(row, "|")
		if len(cells) < 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "function" {
			continue
		}
		require.NotEmpty(t, strings.TrimSpace(cells[2]), "row without a payload: %s", row)
		require.NotEmpty(t, strings.TrimSpace(cells[3]), "row without data: %s", row)
		keys := topLevelKeys(cells[2])
		if len(keys) == 0 {
			continue
		}
		fields := make([]string, len(keys))
		for i, k := range keys {
			fields[i] = strconv.Quote(k) + ": null"
		}
		payload := "{" + strings.Join(fields, ", ") + "}"
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			name := m[1]
			env := c.CallJSON(t.Context(), name, []byte(payload))
			assert.NotContains(t, string(env), "unknown field", "%s %s: a documented field the operation does not decode", name, payload)
			checked++
		}
	}
	assert.Greater(t, checked, 30, "the payload parser found too few rows")
}
