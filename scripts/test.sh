#!/usr/bin/env bash
# Every test and standing check, after scripts/bootstrap.sh has built everything. Prints a plain
# "N passed, N failed" line last (CI reads it; vitest's own summary is per package).
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1

checks_passed=0
checks_failed=0
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    checks_passed=$((checks_passed + 1)); echo "✓ check: $name"
  else
    checks_failed=$((checks_failed + 1)); echo "✗ check: $name"; echo "$out" | tail -30
  fi
}

generated_is_current() {
  # Every template: the public SDK (proto/), the agent's CRI client (packages/agent/proto) and
  # the server's reflection service (packages/server/proto).
  local gen="packages/sdk/src/gen packages/agent/src/gen packages/server/src/gen"
  pnpm -s run generate >/dev/null && git diff --quiet -- $gen \
    && [ -z "$(git status --porcelain -- $gen)" ]
}
syscall_tables_are_current() {
  # packages/policy/src/{ia32,x64}-syscalls.ts are generated from the system's kernel headers.
  node scripts/gen-syscall-tables.mjs >/dev/null && git diff --quiet -- packages/policy/src/ia32-syscalls.ts packages/policy/src/x64-syscalls.ts
}
kernel_contract_is_current() {
  # packages/kernel-contract/src/gen is generated from bpf/include/nsguard_events.h, the one
  # kernel/user contract: a header change without regenerating fails here.
  local gen=packages/kernel-contract/src/gen
  pnpm -s --filter @nsguard/kernel-contract run generate >/dev/null && git diff --quiet -- $gen \
    && [ -z "$(git status --porcelain -- $gen)" ]
}
schema_is_compatible() {
  # Guard the wire schema against the previous commit (skipped on the first commit of proto/).
  if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto 2>/dev/null; then
    pnpm -s buf breaking --against '.git#ref=HEAD~1'
  fi
}

check "buf lint" pnpm -s buf lint
check "buf breaking (against HEAD~1)" schema_is_compatible
check "generated code matches the protos (buf generate, no drift)" generated_is_current
check "syscall tables match the kernel headers (gen-syscall-tables, no drift)" syscall_tables_are_current
check "kernel contract matches bpf/include/nsguard_events.h (kernel-contract generate, no drift)" kernel_contract_is_current
check "biome (format + lint)" pnpm -s biome check .
check "typecheck" pnpm -s turbo run typecheck --output-logs=errors-only

rm -f packages/*/.vitest-result.json native/.vitest-result.json deploy/.vitest-result.json
# One package at a time: root-tier tests load BPF programs and run containers; on a 2-core VM
# running them side by side only adds noise.
pnpm -s turbo run test --concurrency=1 --continue --output-logs=full
test_rc=$?

node scripts/summarize-tests.mjs "$checks_passed" "$checks_failed"
summary_rc=$?
[ $test_rc -eq 0 ] && [ $summary_rc -eq 0 ] && [ $checks_failed -eq 0 ]
