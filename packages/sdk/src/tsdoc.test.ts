import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, it } from "vitest";

// Every public export carries TSDoc (editors show it; the package has no other API docs).
// Generated code (src/gen) is documented from the protos by protoc-gen-es.
it("documents every export of both entries", () => {
  const entries = ["./index.ts", "./web.ts"].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const undocumented: string[] = [];
  for (const entry of entries) {
    const source = program.getSourceFile(entry);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    expect(moduleSymbol).toBeDefined();
    for (const exported of checker.getExportsOfModule(moduleSymbol as ts.Symbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declaration = symbol.declarations?.[0];
      if (declaration === undefined || declaration.getSourceFile().fileName.includes("/src/gen/")) continue;
      const documented = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
      if (ts.getJSDocCommentsAndTags(documented).length === 0) undocumented.push(exported.name);
    }
  }
  expect([...new Set(undocumented)].sort()).toEqual([]);
}, 60_000); // a type-checker program over the package: seconds on a busy machine
