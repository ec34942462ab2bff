import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CapFilterSchema, EventType, Filter } from "./gen/tetragon/events_pb.js";
import { FilterSchema } from "./gen/tetragon/events_pb.js";

type FilterInit = MessageInitShape<typeof FilterSchema>;
type RepeatedKey = {
  [K in keyof FilterInit]-?: NonNullable<FilterInit[K]> extends readonly unknown[] ? K : never;
}[keyof FilterInit];

/**
 * Builds a `tetragon.Filter` (one entry of GetEvents' `allowList` or `denyList`) with typed
 * methods. Fields of one filter are ANDed, values of one field are ORed — Tetragon's
 * semantics, applied by the same code on the server ({@link compileFilter}). Each method
 * returns a new builder, so a partial filter can be reused as a base.
 *
 * Regex fields use Go's RE2 syntax, as upstream Tetragon does.
 */
export class FilterBuilder {
  /** Use {@link filter} to start one. */
  private constructor(private readonly init: Readonly<FilterInit>) {}

  /** An empty builder; {@link filter} is the short form. */
  static empty(): FilterBuilder {
    return new FilterBuilder({});
  }

  private add<K extends RepeatedKey>(key: K, values: NonNullable<FilterInit[K]>): FilterBuilder {
    const before = (this.init[key] ?? []) as readonly unknown[];
    return new FilterBuilder({ ...this.init, [key]: [...before, ...(values as readonly unknown[])] });
  }

  private set<K extends keyof FilterInit>(key: K, value: FilterInit[K]): FilterBuilder {
    return new FilterBuilder({ ...this.init, [key]: value });
  }

  /** Events whose process binary (full path) matches one of these regexes. */
  binaryRegex(...patterns: string[]): FilterBuilder {
    return this.add("binaryRegex", patterns);
  }
  /** Events whose parent's binary matches one of these regexes. */
  parentBinaryRegex(...patterns: string[]): FilterBuilder {
    return this.add("parentBinaryRegex", patterns);
  }
  /** Events with an ancestor (parent, grandparent, …) whose binary matches one of these regexes. */
  ancestorBinaryRegex(...patterns: string[]): FilterBuilder {
    return this.add("ancestorBinaryRegex", patterns);
  }
  /** Events whose process arguments match one of these regexes. */
  argumentsRegex(...patterns: string[]): FilterBuilder {
    return this.add("argumentsRegex", patterns);
  }
  /** Events whose parent's arguments match one of these regexes. */
  parentArgumentsRegex(...patterns: string[]): FilterBuilder {
    return this.add("parentArgumentsRegex", patterns);
  }
  /** Events from pods in these Kubernetes namespaces; `""` selects host processes (no pod). */
  namespaces(...names: string[]): FilterBuilder {
    return this.add("namespace", names);
  }
  /** Events from pods whose namespace matches one of these regexes. */
  namespaceRegex(...patterns: string[]): FilterBuilder {
    return this.add("namespaceRegex", patterns);
  }
  /** Events from pods whose name matches one of these regexes. */
  podRegex(...patterns: string[]): FilterBuilder {
    return this.add("podRegex", patterns);
  }
  /** Events from containers whose name matches one of these regexes. */
  containerNameRegex(...patterns: string[]): FilterBuilder {
    return this.add("containerNameRegex", patterns);
  }
  /** Events from containers whose ID matches one of these regexes (the filter's `container_id`). */
  containerIdRegex(...patterns: string[]): FilterBuilder {
    return this.add("containerId", patterns);
  }
  /** Events from pods whose labels match one of these label selectors (`app=web,tier!=db`). */
  labels(...selectors: string[]): FilterBuilder {
    return this.add("labels", selectors);
  }
  /** Events of these types (the filter's `event_set`). */
  eventTypes(...types: EventType[]): FilterBuilder {
    return this.add("eventSet", types);
  }
  /** Events of these processes (by PID). */
  pids(...pids: number[]): FilterBuilder {
    return this.add("pid", pids);
  }
  /** Events of these processes and all their descendants. */
  pidSet(...pids: number[]): FilterBuilder {
    return this.add("pidSet", pids);
  }
  /** Events produced by these tracing policies. */
  policyNames(...names: string[]): FilterBuilder {
    return this.add("policyNames", names);
  }
  /** Events matching one of these CEL expressions over the event message. */
  celExpressions(...expressions: string[]): FilterBuilder {
    return this.add("celExpression", expressions);
  }
  /** Only health-check events (`true`), or none of them (`false`). */
  healthCheck(value: boolean): FilterBuilder {
    return this.set("healthCheck", value);
  }
  /** Only processes inside (`true`) or outside (`false`) a container's init tree. */
  inInitTree(value: boolean): FilterBuilder {
    return this.set("inInitTree", value);
  }
  /** Events whose process capabilities match this `CapFilter` (permitted/effective/inheritable sets). */
  capabilities(capFilter: MessageInitShape<typeof CapFilterSchema>): FilterBuilder {
    return this.set("capabilities", capFilter);
  }

  /** The `tetragon.Filter` message. */
  build(): Filter {
    return create(FilterSchema, this.init);
  }
}

/**
 * Starts a typed {@link FilterBuilder}.
 *
 * @example
 * ```ts
 * const escapes = filter().eventTypes(EventType.PROCESS_KPROBE).policyNames("namespace-access").build();
 * client.getEvents({ allowList: [escapes] });
 * ```
 */
export function filter(): FilterBuilder {
  return FilterBuilder.empty();
}
