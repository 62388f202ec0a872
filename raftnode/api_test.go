package raftnode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIHidesRaft keeps hashicorp/raft out of the exported API: no
// exported function, method of an exported type, or exported field of an
// exported type mentions a raft or raft-boltdb type.
func TestAPIHidesRaft(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		hidden := map[string]bool{} // local names of the raft imports
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(path, "github.com/hashicorp/") {
				continue
			}
			local := filepath.Base(path)
			if path == "github.com/hashicorp/raft-boltdb/v2" {
				local = "raftboltdb"
			}
			if imp.Name != nil {
				local = imp.Name.Name
			}
			hidden[local] = true
		}
		leaks := func(n ast.Node) (leak string) {
			ast.Inspect(n, func(n ast.Node) bool {
				if s, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := s.X.(*ast.Ident); ok && hidden[id.Name] {
						leak = id.Name + "." + s.Sel.Name
					}
				}
				return leak == ""
			})
			return leak
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if s, ok := recv.(*ast.StarExpr); ok {
						recv = s.X
					}
					if id, ok := recv.(*ast.Ident); !ok || !id.IsExported() {
						continue
					}
				}
				if l := leaks(d.Type); l != "" {
					t.Errorf("%s: exported %s exposes %s", fset.Position(d.Pos()), d.Name.Name, l)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok || !ts.Name.IsExported() {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						if l := leaks(ts.Type); l != "" {
							t.Errorf("%s: exported %s exposes %s", fset.Position(ts.Pos()), ts.Name.Name, l)
						}
						continue
					}
					for _, fld := range st.Fields.List {
						exported := len(fld.Names) == 0
						for _, n := range fld.Names {
							exported = exported || n.IsExported()
						}
						if l := leaks(fld.Type); exported && l != "" {
							t.Errorf("%s: exported field of %s exposes %s", fset.Position(fld.Pos()), ts.Name.Name, l)
						}
					}
				}
			}
		}
	}
}
