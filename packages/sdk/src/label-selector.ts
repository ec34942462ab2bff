import { FilterError } from "./filter-error.js";

/** A parsed Kubernetes label selector: a predicate over a pod's labels. */
export type LabelSelector = (labels: Readonly<Record<string, string>>) => boolean;

// Kubernetes qualified names: optional DNS-subdomain prefix and "/", then a name of at most
// 63 characters that starts and ends alphanumeric.
const namePart = "[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
const keyRe = new RegExp(`^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${namePart}$`);
const valueRe = new RegExp(`^(?:${namePart})?$`);

/**
 * Parses the subset of Kubernetes label-selector syntax that Tetragon's `labels` filter
 * accepts in practice: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`, `k>5`,
 * `k<5`, with commas meaning AND. An empty selector matches every label set (as
 * labels.Parse("") does).
 */
export function parseLabelSelector(selector: string, field = "labels"): LabelSelector {
  const fail = (why: string): never => {
    throw new FilterError(field, `invalid label selector ${JSON.stringify(selector)}: ${why}`);
  };
  const requirements = splitTopLevel(selector, fail).map((r) => r.trim());
  if (requirements.length === 1 && requirements[0] === "") return () => true;
  const checks = requirements.map((r) => parseRequirement(r, fail));
  return (labels) => checks.every((c) => c(labels));
}

function splitTopLevel(selector: string, fail: (why: string) => never): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (ch === "(") depth++;
    else if (ch === ")") {
      depth--;
      if (depth < 0) fail("unbalanced parentheses");
    } else if (ch === "," && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) fail("unbalanced parentheses");
  parts.push(selector.slice(start));
  if (parts.length > 1 && parts.some((p) => p.trim() === "")) fail("empty requirement");
  return parts;
}

function parseRequirement(req: string, fail: (why: string) => never): LabelSelector {
  const key = (k: string): string => (keyRe.test(k) ? k : fail(`invalid label key ${JSON.stringify(k)}`));
  const value = (v: string): string =>
    valueRe.test(v) ? v : fail(`invalid label value ${JSON.stringify(v)}`);
  const has = (labels: Readonly<Record<string, string>>, k: string) => Object.hasOwn(labels, k);

  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(req);
  if (set !== null) {
    const k = key(set[1]);
    const values = set[3].split(",").map((v) => value(v.trim()));
    if (set[3].trim() === "") fail(`"${set[2]}" needs at least one value`);
    return set[2] === "in"
      ? (labels) => has(labels, k) && values.includes(labels[k])
      : (labels) => !has(labels, k) || !values.includes(labels[k]);
  }
  const cmp = /^([^!=<>\s]+)\s*(!=|==|=|>|<)\s*(.*)$/.exec(req);
  if (cmp !== null) {
    const k = key(cmp[1]);
    const op = cmp[2];
    if (op === ">" || op === "<") {
      // k8s labels: Gt/Lt take exactly one base-10 int64, and select labels whose value
      // also parses as one (a label that does not parse is simply not selected).
      const raw = cmp[3].trim();
      const bound =
        parseInt64(raw) ?? fail(`for '${op}' the value must be an integer, got ${JSON.stringify(raw)}`);
      return (labels) => {
        const n = has(labels, k) ? parseInt64(labels[k]) : undefined;
        return n !== undefined && (op === ">" ? n > bound : n < bound);
      };
    }
    const v = value(cmp[3].trim());
    return op === "!="
      ? (labels) => !has(labels, k) || labels[k] !== v
      : (labels) => has(labels, k) && labels[k] === v;
  }
  if (req.startsWith("!")) {
    const k = key(req.slice(1).trim());
    return (labels) => !has(labels, k);
  }
  const k = key(req);
  return (labels) => has(labels, k);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}
