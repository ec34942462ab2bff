/**
 * A GetEventsRequest filter that nsguard cannot honour: a bad regex or label selector, or a
 * field nsguard does not implement. Servers answer it with InvalidArgument; `field` is the
 * proto (snake_case) name of the offending Filter/FieldFilter field.
 */
export class FilterError extends Error {
  override readonly name = "FilterError";

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * A filter that has used up its share of evaluation time (see CEL_TIME_BUDGET_MS in cel.ts):
 * the event is not evaluated and not delivered to that listener. Thrown per event, while the
 * budget is exhausted; the server counts these as the listener's filter errors.
 */
export class FilterCostError extends Error {
  override readonly name = "FilterCostError";
}
