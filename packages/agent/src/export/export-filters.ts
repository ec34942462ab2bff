import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  type FieldFilter,
  FieldFilterSchema,
  type Filter,
  FilterSchema,
  GetEventsRequestSchema,
} from "@nsguard/sdk";
import { type CompiledGetEvents, compileGetEventsRequest } from "@nsguard/server";

/** A bad --export-allowlist / --export-denylist / --field-filters value; the agent does not start. */
export class ExportFilterError extends Error {
  override readonly name = "ExportFilterError";
}

/** The export's filters, as flag text: one JSON object per line (Tetragon's syntax). */
export interface ExportFilterFlags {
  /** --export-allowlist: tetragon.Filter objects; an event must match one of them. */
  allowList?: string | undefined;
  /** --export-denylist: tetragon.Filter objects; an event matching any is not exported. */
  denyList?: string | undefined;
  /** --field-filters: tetragon.FieldFilter objects, `"fields"` a comma-separated path list. */
  fieldFilters?: string | undefined;
}

/**
 * Compiles the export's filters with the very code GetEvents uses (compileGetEventsRequest, on
 * the GetEventsRequest Tetragon's exporter builds from the same flags), so a filter means the
 * same in the file as on the wire. The export is its own hub listener: these filters never
 * touch what gRPC clients receive.
 */
export function compileExportFilters(flags: ExportFilterFlags): CompiledGetEvents {
  const request = create(GetEventsRequestSchema, {
    allowList: parseLines(flags.allowList, "--export-allowlist", parseFilter),
    denyList: parseLines(flags.denyList, "--export-denylist", parseFilter),
    fieldFilters: parseLines(flags.fieldFilters, "--field-filters", parseFieldFilter),
  });
  try {
    return compileGetEventsRequest(request);
  } catch (err) {
    // compileGetEventsRequest wraps the filter's own error for gRPC clients; the user wants that one.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    throw new ExportFilterError(`export filters: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** Tetragon's ParseFilterList: newline-separated JSON objects, blank lines skipped. */
function parseLines<T>(text: string | undefined, flag: string, parse: (json: JsonValue) => T): T[] {
  if (text === undefined) return [];
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      try {
        return parse(JSON.parse(line) as JsonValue);
      } catch (err) {
        throw new ExportFilterError(`${flag}: ${JSON.stringify(line)}: ${(err as Error).message}`);
      }
    });
}

function parseFilter(json: JsonValue): Filter {
  return fromJson(FilterSchema, json);
}

/**
 * FieldFilter's `fields` is a google.protobuf.FieldMask, whose JSON form is lowerCamelCase;
 * Tetragon's ParseFieldFilterList turns the snake_case paths users write (`process.exec_id`)
 * into that form before decoding, and so does this.
 */
function parseFieldFilter(json: JsonValue): FieldFilter {
  if (json !== null && typeof json === "object" && !Array.isArray(json) && typeof json.fields === "string") {
    json = { ...json, fields: json.fields.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) };
  }
  return fromJson(FieldFilterSchema, json);
}
