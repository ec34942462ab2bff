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
