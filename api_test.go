package phlo_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateAPI = flag.Bool("update-api", false, "rewrite api/*.txt from the code")

// apiPackages are the packages whose exported API is written down, by
// directory, with the listing that holds it.
var apiPackages = []struct{ name, dir, listing string }{
	{"phlo", ".", "api/phlo.txt"},
	{"phlotest", "phlotest", "api/phlotest.txt"},
	{"callback", "callback", "api/callback.txt"},
}

const apiUpdateCommand = "go test -run '^TestAPI$' . -args -update-api"

// TestAPI: the exported API of phlo, phlotest and callback is the one
// written down in api/, so that it changes only on purpose. Each line names
// one exported identifier with its signature, in the form of the Go
// project's api/ files; the test names every line added or removed.
func TestAPI(t *testing.T) {
	t.Parallel()
	for _, p := range apiPackages {
		t.Run(p.listing, func(t *testing.T) {
			t.Parallel()
			got, err := apiListing(p.dir)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(got, "\n") + "\n"
			if *updateAPI {
				if err := os.WriteFile(p.listing, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err := os.ReadFile(p.listing)
			if err != nil {
				t.Fatalf("%v\nwrite it with: %s", err, apiUpdateCommand)
			}
			want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			added, removed := lineDiff(want, got)
			if len(added)+len(removed) == 0 {
				return
			}
			var b strings.Builder
			fmt.Fprintf(&b, "the exported API of package %s differs from %s:\n", p.name, p.listing)
			for _, l := range added {
				fmt.Fprintf(&b, "  added:   %s\n", l)
			}
			for _, l := range removed {
				fmt.Fprintf(&b, "  removed: %s\n", l)
			}
			fmt.Fprintf(&b, "If the change is on purpose, name it in CHANGELOG.md's [Unreleased] section and regenerate the listing with:\n  %s", apiUpdateCommand)
			t.Error(b.String())
		})
	}
}

// lineDiff returns the lines of got that are not in want, and those of want
// that are not in got.
func lineDiff(want, got []string) (added, removed []string) {
	for _, l := range got {
		if !slices.Contains(want, l) {
			added = append(added, l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// apiListing returns the sorted API lines of the package in dir, from its
// source: go/parser and go/ast only, since type-checking the package's
// imports from source takes minutes on a busy machine. Types read as they
// are written in the source.
func apiListing(dir string) ([]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	l := apiLister{types: map[string]*ast.TypeSpec{}, funcs: map[string]*ast.FuncType{}, methods: map[string][]*ast.FuncDecl{}}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if l.pkg == "" {
			l.pkg = f.Name.Name
		}
		l.collect(f)
	}
	if l.pkg == "" {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	var lines []string
	for _, d := range l.decls {
		lines = append(lines, l.lines(d)...)
	}
	for name, spec := range l.types {
		if ast.IsExported(name) {
			lines = append(lines, l.typeLines(spec)...)
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines), nil
}

// apiLister gathers a package's declarations, then writes their lines.
type apiLister struct {
	pkg     string
	decls   []ast.Decl                 // consts, vars and funcs
	types   map[string]*ast.TypeSpec   // every type, exported or not
	funcs   map[string]*ast.FuncType   // every function, for the type of a var
	methods map[string][]*ast.FuncDecl // by receiver type name
}

func (l *apiLister) collect(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				l.funcs[d.Name.Name] = d.Type
				l.decls = append(l.decls, d)
			} else {
				recv := recvName(d.Recv.List[0].Type)
				l.methods[recv] = append(l.methods[recv], d)
			}
		case *ast.GenDecl:
			if d.Tok == token.TYPE {
				for _, s := range d.Specs {
					ts := s.(*ast.TypeSpec)
					l.types[ts.Name.Name] = ts
				}
			} else if d.Tok == token.CONST || d.Tok == token.VAR {
				l.decls = append(l.decls, d)
			}
		}
	}
}

// lines writes a const, var or func declaration.
func (l *apiLister) lines(d ast.Decl) []string {
	prefix := "pkg " + l.pkg + ", "
	var out []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if ast.IsExported(d.Name.Name) {
			out = append(out, prefix+"func "+d.Name.Name+typeParams(d.Type.TypeParams)+signature(d.Type))
		}
	case *ast.GenDecl:
		var typ ast.Expr
		var values []ast.Expr
		for iota, s := range d.Specs {
			vs := s.(*ast.ValueSpec)
			if d.Tok == token.CONST && vs.Type == nil && len(vs.Values) == 0 {
				vs = &ast.ValueSpec{Names: vs.Names, Type: typ, Values: values} // repeats the one above
			} else {
				typ, values = vs.Type, vs.Values
			}
			for i, name := range vs.Names {
				if ast.IsExported(name.Name) {
					out = append(out, l.valueLines(prefix, d.Tok, name.Name, vs, i, iota)...)
				}
			}
		}
	}
	return out
}

// valueLines writes one const or var: its type, and a const's value as
// written (with iota's value where it is used).
func (l *apiLister) valueLines(prefix string, tok token.Token, name string, vs *ast.ValueSpec, i, iota int) []string {
	var value ast.Expr
	if i < len(vs.Values) {
		value = vs.Values[i]
	}
	if tok == token.VAR {
		typ := "= " + types.ExprString(value)
		if vs.Type != nil {
			typ = expr(vs.Type)
		} else if t := l.valueType(value); t != "" {
			typ = t
		}
		return []string{prefix + "var " + name + " " + typ}
	}
	var out []string
	if vs.Type != nil {
		out = append(out, prefix+"const "+name+" "+expr(vs.Type))
	}
	v := constantString(value)
	if strings.Contains(v, "iota") {
		v += fmt.Sprintf(" (iota = %d)", iota)
	}
	return append(out, prefix+"const "+name+" = "+v)
}

// constantString is the value of a constant expression made of literals
// alone, such as 64 << 10, computed, so that the listing does not change
// with the way a value is written; any other expression, such as
// 30 * time.Second, as written.
func constantString(e ast.Expr) string {
	if v := constantValue(e); v.Kind() != constant.Unknown {
		return v.ExactString()
	}
	return types.ExprString(e)
}

func constantValue(e ast.Expr) constant.Value {
	switch e := e.(type) {
	case *ast.BasicLit:
		return constant.MakeFromLiteral(e.Value, e.Kind, 0)
	case *ast.ParenExpr:
		return constantValue(e.X)
	case *ast.UnaryExpr:
		return constant.UnaryOp(e.Op, constantValue(e.X), 0)
	case *ast.BinaryExpr:
		x, y := constantValue(e.X), constantValue(e.Y)
		switch {
		case x.Kind() == constant.Unknown || y.Kind() == constant.Unknown:
			return constant.MakeUnknown()
		case e.Op == token.SHL || e.Op == token.SHR:
			if s, ok := constant.Uint64Val(y); ok {
				return constant.Shift(x, e.Op, uint(s))
			}
			return constant.MakeUnknown()
		case e.Op == token.QUO && x.Kind() == constant.Int && y.Kind() == constant.Int:
			return constant.BinaryOp(x, token.QUO_ASSIGN, y) // integer division
		}
		return constant.BinaryOp(x, e.Op, y)
	}
	return constant.MakeUnknown()
}

// valueType is the type of a var declared without one, where the value
// says it plainly: errors.New or fmt.Errorf, a composite literal, or a
// call of a function of the package with one result. It is "" otherwise,
// and the line gives the value instead.
func (l *apiLister) valueType(v ast.Expr) string {
	switch v := v.(type) {
	case *ast.CompositeLit:
		return expr(v.Type)
	case *ast.UnaryExpr:
		if lit, ok := v.X.(*ast.CompositeLit); ok && v.Op == token.AND {
			return "*" + expr(lit.Type)
		}
	case *ast.CallExpr:
		switch fn := types.ExprString(v.Fun); {
		case fn == "errors.New" || fn == "fmt.Errorf":
			return "error"
		case l.funcs[fn] != nil && l.funcs[fn].Results != nil && len(fieldTypes(l.funcs[fn].Results)) == 1:
			return fieldTypes(l.funcs[fn].Results)[0]
		}
	}
	return ""
}

// typeLines writes an exported type: its kind, its exported fields or
// interface methods, and its exported methods, those promoted from the
// unexported types it embeds included.
func (l *apiLister) typeLines(ts *ast.TypeSpec) []string {
	prefix := "pkg " + l.pkg + ", type " + ts.Name.Name + typeParams(ts.TypeParams)
	var out []string
	switch t := ts.Type.(type) {
	case *ast.StructType:
		out = append(out, prefix+" struct")
		for _, f := range l.fields(t) {
			out = append(out, prefix+" struct, "+f)
		}
	case *ast.InterfaceType:
		var names []string
		for _, m := range t.Methods.List {
			for _, n := range m.Names {
				if ast.IsExported(n.Name) {
					names = append(names, n.Name)
					out = append(out, prefix+" interface, "+n.Name+signature(m.Type.(*ast.FuncType)))
				}
			}
			if len(m.Names) == 0 {
				out = append(out, prefix+" interface, embedded "+expr(m.Type))
			} else if !ast.IsExported(m.Names[0].Name) {
				out = append(out, prefix+" interface, unexported methods")
			}
		}
		slices.Sort(names)
		out = append(out, prefix+" interface { "+strings.Join(names, ", ")+" }")
	default:
		eq := " "
		if ts.Assign.IsValid() {
			eq = " = "
		}
		out = append(out, prefix+eq+expr(ts.Type))
	}
	for _, m := range l.methodSet(ts.Name.Name, map[string]bool{}) {
		out = append(out, "pkg "+l.pkg+", method ("+expr(m.Recv.List[0].Type)+") "+m.Name.Name+signature(m.Type))
	}
	return out
}

// fields writes the exported fields of a struct: "Name Type", or "embedded
// Type" for an exported embedded type; the exported fields of an embedded
// unexported struct type are promoted, and written as the struct's own.
func (l *apiLister) fields(t *ast.StructType) []string {
	var out []string
	for _, f := range t.Fields.List {
		if len(f.Names) == 0 {
			name := recvName(f.Type)
			if ast.IsExported(name) {
				out = append(out, "embedded "+expr(f.Type))
			} else if ts := l.types[name]; ts != nil {
				if st, ok := ts.Type.(*ast.StructType); ok {
					out = append(out, l.fields(st)...)
				}
			}
			continue
		}
		for _, n := range f.Names {
			if ast.IsExported(n.Name) {
				out = append(out, n.Name+" "+expr(f.Type))
			}
		}
	}
	return out
}

// methodSet is the exported methods declared on type name, then those
// promoted from the unexported types it embeds, unless shadowed.
func (l *apiLister) methodSet(name string, seen map[string]bool) []*ast.FuncDecl {
	var out []*ast.FuncDecl
	for _, m := range l.methods[name] {
		if ast.IsExported(m.Name.Name) && !seen[m.Name.Name] {
			seen[m.Name.Name] = true
			out = append(out, m)
		}
	}
	ts, ok := l.types[name]
	if !ok {
		return out
	}
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return out
	}
	for _, f := range st.Fields.List {
		if embedded := recvName(f.Type); len(f.Names) == 0 && !ast.IsExported(embedded) {
			for _, m := range l.methodSet(embedded, seen) {
				var recv ast.Expr = ast.NewIdent(name)
				if _, ptr := m.Recv.List[0].Type.(*ast.StarExpr); ptr {
					recv = &ast.StarExpr{X: recv}
				}
				promoted := *m
				promoted.Recv = &ast.FieldList{List: []*ast.Field{{Type: recv}}}
				out = append(out, &promoted)
			}
		}
	}
	return out
}

// recvName is the name of the type in a receiver or an embedded field:
// T, *T, T[P] or pkg.T.
func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// signature writes a function type without its parameter names:
// "(string, ...Option) (*RestClient, error)".
func signature(f *ast.FuncType) string {
	s := "(" + strings.Join(fieldTypes(f.Params), ", ") + ")"
	switch res := fieldTypes(f.Results); {
	case len(res) == 1:
		s += " " + res[0]
	case len(res) > 1:
		s += " (" + strings.Join(res, ", ") + ")"
	}
	return s
}

// fieldTypes writes the type of each parameter or result, once per name.
func fieldTypes(fl *ast.FieldList) []string {
	if fl == nil {
		return nil
	}
	var out []string
	for _, f := range fl.List {
		for range max(1, len(f.Names)) {
			out = append(out, expr(f.Type))
		}
	}
	return out
}

// typeParams writes type parameters with their constraints: "[K comparable, V any]".
func typeParams(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	var out []string
	for _, f := range fl.List {
		for _, n := range f.Names {
			out = append(out, n.Name+" "+expr(f.Type))
		}
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// expr writes a type as the source spells it, with the parameter names of
// function types left out.
func expr(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.FuncType:
		return "func" + signature(e)
	case *ast.StarExpr:
		return "*" + expr(e.X)
	case *ast.Ellipsis:
		return "..." + expr(e.Elt)
	case *ast.ArrayType:
		if e.Len == nil {
			return "[]" + expr(e.Elt)
		}
		return "[" + types.ExprString(e.Len) + "]" + expr(e.Elt)
	case *ast.MapType:
		return "map[" + expr(e.Key) + "]" + expr(e.Value)
	case *ast.ChanType:
		switch e.Dir {
		case ast.SEND:
			return "chan<- " + expr(e.Value)
		case ast.RECV:
			return "<-chan " + expr(e.Value)
		}
		return "chan " + expr(e.Value)
	case *ast.StructType:
		var fs []string
		for _, f := range e.Fields.List {
			names := make([]string, len(f.Names))
			for i, n := range f.Names {
				names[i] = n.Name
			}
			fs = append(fs, strings.TrimSpace(strings.Join(names, ", ")+" "+expr(f.Type)))
		}
		return "struct{" + strings.Join(fs, "; ") + "}"
	case *ast.InterfaceType:
		var ms []string
		for _, m := range e.Methods.List {
			if ft, ok := m.Type.(*ast.FuncType); ok && len(m.Names) > 0 {
				ms = append(ms, m.Names[0].Name+signature(ft))
			} else {
				ms = append(ms, expr(m.Type))
			}
		}
		return "interface{" + strings.Join(ms, "; ") + "}"
	case *ast.IndexExpr:
		return expr(e.X) + "[" + expr(e.Index) + "]"
	case *ast.IndexListExpr:
		args := make([]string, len(e.Indices))
		for i, a := range e.Indices {
			args[i] = expr(a)
		}
		return expr(e.X) + "[" + strings.Join(args, ", ") + "]"
	case *ast.ParenExpr:
		return "(" + expr(e.X) + ")"
	}
	return types.ExprString(e)
}
