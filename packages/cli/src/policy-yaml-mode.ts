import { isMap, isSeq, parseDocument, YAMLMap } from "yaml";
import { CliUsageError } from "./rpc-error.js";

export type PolicyModeName = "enforce" | "monitor";

/**
 * tetra's PolicyYAMLSetMode (pkg/tracingpolicy/yaml.go), behind `tracingpolicy add --mode`:
 * every `policy-mode` entry of spec.options is dropped and one with `mode` is appended (options
 * are created when absent). The document is edited in place, so the rest of the YAML, comments
 * included, reaches the agent as written (tetra re-marshals it instead, which says the same).
 */
export function setPolicyYamlMode(yaml: string, mode: PolicyModeName): string {
  const doc = parseDocument(yaml);
  if (doc.errors.length > 0) throw new CliUsageError(`cannot set the mode: ${doc.errors[0]?.message}`);
  const spec = doc.get("spec", true);
  if (spec === undefined) throw new CliUsageError("cannot set the mode: yaml does not include spec section");
  if (!isMap(spec)) throw new CliUsageError("cannot set the mode: spec is not a mapping");
  const entry = doc.createNode({ name: "policy-mode", value: mode });
  const options = spec.get("options", true);
  if (options === undefined || options === null) {
    spec.set("options", doc.createNode([entry]));
  } else if (isSeq(options)) {
    options.items = options.items.filter(
      (item) => !(item instanceof YAMLMap && item.get("name") === "policy-mode"),
    );
    options.items.push(entry);
  } else {
    throw new CliUsageError("cannot set the mode: spec.options is not a list");
  }
  return doc.toString();
}
