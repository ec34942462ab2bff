import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** deploy/ */
export const DEPLOY_DIR = new URL("../", import.meta.url).pathname;
export const REPO_DIR = join(DEPLOY_DIR, "..");
export const KUBERNETES_DIR = join(DEPLOY_DIR, "kubernetes");
export const CLI = join(REPO_DIR, "packages/cli/bin/nsguard.js");

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML until validated
export type Manifest = Record<string, any>;

/** Every document of a YAML file, parsed strictly (duplicate keys, bad syntax: errors). */
export function readYamlDocuments(path: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path, "utf8"), { uniqueKeys: true, prettyErrors: true });
  return (Array.isArray(docs) ? docs : [docs]).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS() as Manifest;
  });
}

/** The resources kustomization.yaml lists, in order, with the file each came from. */
export function kubernetesResources(): { file: string; manifest: Manifest }[] {
  const [kustomization] = readYamlDocuments(join(KUBERNETES_DIR, "kustomization.yaml"));
  return ((kustomization?.resources ?? []) as string[]).flatMap((file) =>
    readYamlDocuments(join(KUBERNETES_DIR, file)).map((manifest) => ({ file, manifest })),
  );
}

export function resource(kind: string, name: string): Manifest {
  const found = kubernetesResources().find(
    (r) => r.manifest.kind === kind && r.manifest.metadata?.name === name,
  );
  if (!found) throw new Error(`deploy/kubernetes has no ${kind} ${name}`);
  return found.manifest;
}

export function daemonSet(): Manifest {
  return resource("DaemonSet", "nsguard");
}

export function agentContainer(ds: Manifest = daemonSet()): Manifest {
  return ds.spec.template.spec.containers.find((c: Manifest) => c.name === "nsguard");
}

/** `nsguard agent --help` of this checkout's CLI. */
export function agentHelp(): string {
  return execFileSync(process.execPath, [CLI, "agent", "--help"], { encoding: "utf8" });
}

/** The long flags `nsguard agent --help` lists. */
export function agentFlags(help: string = agentHelp()): Set<string> {
  return new Set([...help.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1] as string));
}

/** The default `--help` prints for a flag (`(default: "x")` or `default: x if it exists`). */
export function helpDefault(help: string, flag: string): string {
  const start = help.indexOf(`  ${flag} `);
  if (start < 0) throw new Error(`nsguard agent --help has no ${flag}`);
  const rest = help.slice(start + flag.length + 2);
  const next = rest.search(/\n {2}--/);
  const text = (next < 0 ? rest : rest.slice(0, next)).replace(/\s+/g, " ");
  const m = /default:? "?([^"(),;\s]+)"?/.exec(text);
  if (!m?.[1]) throw new Error(`nsguard agent --help shows no default for ${flag}: ${text}`);
  return m[1];
}

/** The flags of an `agent …` argument list (the values after them dropped). */
export function flagsOf(args: string[]): string[] {
  return args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0] as string);
}

/** The value that follows `flag` in an argument list. */
export function argValue(args: string[], flag: string): string {
  const i = args.indexOf(flag);
  const value = args[i + 1];
  if (i < 0 || value === undefined) throw new Error(`no ${flag} <value> in ${args.join(" ")}`);
  return value;
}

/** The config ConfigMap as flag → value (`--config-dir`: one file per flag name). */
export function agentConfig(): Record<string, string> {
  return resource("ConfigMap", "nsguard-config").data;
}

/** The port of a listen address such as ":2112" or "localhost:54321". */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}
