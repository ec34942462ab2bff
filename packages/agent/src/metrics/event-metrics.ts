import { EventType, eventProcess, eventType, type GetEventsResponse, KprobeAction } from "@nsguard/sdk";
import { LabelSetCounter } from "./label-sets.js";

/** The labels Tetragon's --metrics-label-filter chooses from, and its default (all of them). */
export const POD_LABELS = ["namespace", "workload", "pod", "binary"] as const;
export type PodLabel = (typeof POD_LABELS)[number];

/**
 * Default bound on distinct label sets per labelled metric. A series costs ~200 bytes here and
 * more in Prometheus; 4096 covers a node's pods × binaries in ordinary use, and a flood of
 * distinct binaries folds into the overflow series beyond it.
 */
export const DEFAULT_MAX_LABEL_SETS = 4096;

export interface EventMetricsOptions {
  /** Which of namespace, workload, pod, binary are filled in (the rest are ""); default all. */
  labelFilter?: readonly PodLabel[];
  /** Distinct label sets kept per metric (see LabelSetCounter); default DEFAULT_MAX_LABEL_SETS. */
  maxLabelSets?: number;
}

/**
 * The per-event metrics, counted as events are published (Tetragon counts them on the same path):
 * nsguard_events_total{type,namespace,workload,pod,binary},
 * nsguard_policy_events_total{policy,hook,namespace,workload,pod,binary} and
 * nsguard_policy_actions_total{policy,hook,action}. Each is a LabelSetCounter, so memory stays
 * bounded however many binaries or pods show up.
 */
export class EventMetrics {
  readonly events: LabelSetCounter;
  readonly policyEvents: LabelSetCounter;
  readonly policyActions: LabelSetCounter;
  readonly #filter: readonly boolean[];

  constructor(options: EventMetricsOptions = {}) {
    const filter = options.labelFilter ?? POD_LABELS;
    this.#filter = POD_LABELS.map((l) => filter.includes(l));
    const maxSets = options.maxLabelSets ?? DEFAULT_MAX_LABEL_SETS;
    this.events = new LabelSetCounter({
      labelNames: ["type", ...POD_LABELS],
      keptInOverflow: ["type"],
      maxSets,
    });
    // policy and hook come from the policies an operator loaded, so they stay in the overflow.
    this.policyEvents = new LabelSetCounter({
      labelNames: ["policy", "hook", ...POD_LABELS],
      keptInOverflow: ["policy", "hook"],
      maxSets,
    });
    this.policyActions = new LabelSetCounter({
      labelNames: ["policy", "hook", "action"],
      keptInOverflow: ["policy", "hook", "action"],
      maxSets,
    });
  }

  /** Counts one published event. */
  record(event: GetEventsResponse): void {
    const process = eventProcess(event);
    const pod = process?.pod;
    const podValues = [pod?.namespace, pod?.workload, pod?.name, process?.binary].map((v, i) =>
      this.#filter[i] ? (v ?? "") : "",
    );
    this.events.inc([EventType[eventType(event)] ?? "UNDEF", ...podValues]);
    if (event.event.case === "processKprobe") {
      const kprobe = event.event.value;
      this.policyEvents.inc([kprobe.policyName, kprobe.functionName, ...podValues]);
      this.policyActions.inc([
        kprobe.policyName,
        kprobe.functionName,
        KprobeAction[kprobe.action] ?? "UNKNOWN",
      ]);
    }
  }
}
