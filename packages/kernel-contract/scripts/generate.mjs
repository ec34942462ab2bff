// Generates src/gen/nsguard-events.ts from bpf/include/nsguard_events.h, the one kernel/user
// contract header: `pnpm --filter @nsguard/kernel-contract run generate`. Nothing here parses C:
// the compiler says what the header holds and a compiled probe says what it means.
//   1. clang -E -dD: the NSGUARD_* macros, in header order.
//   2. clang -ast-dump=json: every enum nsguard_* (constants) and struct nsguard_* (fields).
//   3. A generated C program, built with cc and run, prints the macros' values, the enum values,
//      and every struct's sizeof/_Alignof and per field offsetof, size, element kind and length.
// So a new macro, enum, struct or field in the header is picked up by re-running this script.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(packageDir, "../..");
// Arguments (tests only): another header and output file.
const header = resolve(process.argv[2] ?? join(repoRoot, "bpf/include/nsguard_events.h"));
const output = resolve(process.argv[3] ?? join(packageDir, "src/gen/nsguard-events.ts"));
const headerName = relative(repoRoot, header);

const scratch = mkdtempSync(join(tmpdir(), "nsguard-contract-"));
try {
  writeFileSync(output, generate());
  console.log(`${relative(repoRoot, output)}: generated from ${headerName}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function generate() {
  // The header uses the kernel's fixed-width types and includes nothing itself (as in decode.cc).
  const wrapper = join(scratch, "wrapper.c");
  writeFileSync(wrapper, `#include <linux/types.h>\n#include ${JSON.stringify(header)}\n`);
  const run = (cmd, args) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20 });

  const macroNames = [];
  for (const [, name, params, body] of run("clang", ["-E", "-dD", wrapper]).matchAll(
    /^#define (NSGUARD_\w+)(\()?(.*)$/gm,
  )) {
    // Function-like and empty macros (the include guard) are no constants.
    if (params || body.trim() === "" || macroNames.includes(name)) continue;
    macroNames.push(name);
  }
  const integerMacros = macroNames.filter((name) => isIntegerMacro(name, wrapper));

  const ast = JSON.parse(run("clang", ["-Xclang", "-ast-dump=json", "-fsyntax-only", wrapper]));
  const enums = [];
  const structs = [];
  for (const decl of ast.inner ?? []) {
    if (!decl.name?.startsWith("nsguard_")) continue;
    if (decl.kind === "EnumDecl" && decl.inner) {
      enums.push({
        name: decl.name,
        constants: decl.inner.filter((c) => c.kind === "EnumConstantDecl").map((c) => c.name),
      });
    } else if (decl.kind === "RecordDecl" && decl.completeDefinition) {
      if (decl.tagUsed !== "struct")
        throw new Error(`${headerName}: ${decl.tagUsed} ${decl.name}: only structs are supported`);
      structs.push({
        name: decl.name,
        fields: (decl.inner ?? []).filter((f) => f.kind === "FieldDecl").map((f) => fieldOf(decl.name, f)),
      });
    }
  }

  const probe = join(scratch, "probe.c");
  writeFileSync(probe, probeProgram(integerMacros, enums, structs));
  run("cc", ["-std=gnu11", "-Wall", "-Werror", "-o", join(scratch, "probe"), probe]);
  const facts = JSON.parse(run(join(scratch, "probe"), []));
  return render(integerMacros, enums, structs, facts);
}

// An integer constant expression, not a string, a type or a float: `_Generic` picks the integer
// types; a body that is no expression at all fails to compile.
function isIntegerMacro(name, wrapper) {
  const file = join(scratch, `is-${name}.c`);
  writeFileSync(
    file,
    `#include ${JSON.stringify(wrapper)}\n_Static_assert(_Generic((${name}), char: 1, signed char: 1, unsigned char: 1, short: 1, unsigned short: 1, int: 1, unsigned: 1, long: 1, unsigned long: 1, long long: 1, unsigned long long: 1, default: 0), "not an integer");\nenum { probe = (${name}) ? 1 : 0 };\n`,
  );
  try {
    execFileSync("clang", ["-fsyntax-only", "-Wno-everything", file], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Name, struct-typed or scalar, and array dimensions from the AST; sizes and kinds come from the probe.
function fieldOf(structName, f) {
  const where = `${headerName}: struct ${structName}.${f.name}`;
  if (!f.name) throw new Error(`${where}: anonymous members are not supported`);
  if (f.isBitfield) throw new Error(`${where}: bit-fields are not supported`);
  const qual = f.type.qualType;
  const dims = [...qual.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  if (dims.length > 1) throw new Error(`${where}: multi-dimensional arrays are not supported`);
  const base = (dims.length ? qual.replace(/\s*\[.*$/, "") : (f.type.desugaredQualType ?? qual)).trim();
  if (base.includes("*") || base.includes("("))
    throw new Error(`${where}: pointers are not supported (${qual})`);
  if (base.startsWith("union ")) throw new Error(`${where}: unions are not supported (${qual})`);
  const struct = base.startsWith("struct ") ? base.slice("struct ".length) : undefined;
  return { name: f.name, struct, array: dims.length === 1 };
}

function probeProgram(macros, enums, structs) {
  const lines = [
    "#include <linux/types.h>",
    "#include <stddef.h>",
    "#include <stdio.h>",
    `#include ${JSON.stringify(header)}`,
    "",
    "// A constant as JSON: a string of decimal digits, so no value loses precision on the way.",
    '#define PRINT_INT(v) ((v) < 0 ? printf("\\"%lld\\"", (long long)(v)) : printf("\\"%llu\\"", (unsigned long long)(v)))',
    "",
    "int main(void) {",
    '  printf("{\\"macros\\":{");',
  ];
  macros.forEach((m, i) => {
    lines.push(`  printf("%s\\"${m}\\":", ${i ? '","' : '""'}); PRINT_INT(${m});`);
  });
  lines.push('  printf("},\\"enums\\":{");');
  enums
    .flatMap((e) => e.constants)
    .forEach((c, i) => {
      lines.push(`  printf("%s\\"${c}\\":", ${i ? '","' : '""'}); PRINT_INT(${c});`);
    });
  lines.push('  printf("},\\"structs\\":{");');
  structs.forEach((s, i) => {
    const t = `struct ${s.name}`;
    lines.push(
      `  printf("%s\\"${s.name}\\":{\\"size\\":%zu,\\"align\\":%zu,\\"fields\\":{", ${i ? '","' : '""'}, sizeof(${t}), _Alignof(${t}));`,
    );
    s.fields.forEach((f, j) => {
      const m = `((${t} *)0)->${f.name}`;
      const elem = f.array ? `${m}[0]` : m;
      // Scalars: char, or signed/unsigned by what -1 converts to (a float would be neither: refused).
      const kind = f.struct
        ? "'x'"
        : `(_Generic((${elem}), char: 'c', default: ((__typeof__(${elem}))-1 < 0 ? 's' : 'u')))`;
      if (!f.struct)
        lines.push(
          `  _Static_assert((__typeof__(${elem}))0.5 == 0, "struct ${s.name}.${f.name}: floating point is not supported");`,
        );
      lines.push(
        `  printf("%s\\"${f.name}\\":{\\"offset\\":%zu,\\"size\\":%zu,\\"elemSize\\":%zu,\\"kind\\":\\"%c\\"}", ${j ? '","' : '""'}, offsetof(${t}, ${f.name}), sizeof(${m}), sizeof(${elem}), ${kind});`,
      );
    });
    lines.push('  printf("}}");');
  });
  lines.push('  printf("}}\\n");', "  return 0;", "}", "");
  return lines.join("\n");
}

function literal(decimal) {
  const v = BigInt(decimal);
  return v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? `${v}n` : `${v}`;
}

function render(macros, enums, structs, facts) {
  const out = [
    `// Generated by packages/kernel-contract/scripts/generate.mjs from ${headerName}; do not edit.`,
    "// Regenerate: pnpm --filter @nsguard/kernel-contract run generate",
    "",
    "// Integer NSGUARD_* macros, in header order (bigint beyond Number.MAX_SAFE_INTEGER).",
  ];
  for (const m of macros) out.push(`export const ${m} = ${literal(facts.macros[m])};`);
  for (const e of enums) {
    out.push("", `// enum ${e.name}`);
    for (const c of e.constants) out.push(`export const ${c} = ${literal(facts.enums[c])};`);
  }
  out.push("", "/** Every enum nsguard_*: constant name → value. */", "export const enums = {");
  for (const e of enums) {
    out.push(`  ${e.name}: {`);
    for (const c of e.constants) out.push(`    ${c}: ${literal(facts.enums[c])},`);
    out.push("  },");
  }
  out.push(
    "} as const;",
    "",
    "/**",
    " * Every struct nsguard_*: sizeof, _Alignof and per field (declaration order) offsetof, sizeof,",
    " * element type (u8…u64, s8…s64, char, or a struct's name) and, for arrays, the element count.",
    " */",
    "export const structs = {",
  );
  for (const s of structs) {
    const sf = facts.structs[s.name];
    out.push(`  ${s.name}: {`, `    size: ${sf.size},`, `    align: ${sf.align},`, "    fields: {");
    for (const f of s.fields) {
      const ff = sf.fields[f.name];
      const type = f.struct ?? (ff.kind === "c" ? "char" : `${ff.kind}${ff.elemSize * 8}`);
      if (!f.struct && ff.kind !== "c" && ![1, 2, 4, 8].includes(ff.elemSize)) {
        throw new Error(
          `${headerName}: struct ${s.name}.${f.name}: ${ff.elemSize}-byte integers are not supported`,
        );
      }
      const length = f.array ? `, length: ${ff.size / ff.elemSize}` : "";
      out.push(`      ${f.name}: { offset: ${ff.offset}, size: ${ff.size}, type: "${type}"${length} },`);
    }
    out.push("    },", "  },");
  }
  out.push("} as const;", "");
  return out.join("\n");
}
