import { createInterface } from "node:readline";
import { fromJsonString } from "@bufbuild/protobuf";
import type { GetEventsRequest, GetEventsResponse } from "@nsguard/sdk";
import {
  CompactEncodeError,
  compileFieldFilters,
  compileFilters,
  GetEventsResponseSchema,
  toCompact,
  toJsonLine,
} from "@nsguard/sdk";
import type { Command } from "commander";
import { Option } from "commander";
import type { ConnectionFlags } from "../connection.js";
import { addConnectionOptions, connect, sleep } from "../connection.js";
import { parseGoDuration } from "../duration.js";
import type { GetEventsFilterFlags } from "../getevents-request.js";
import { buildGetEventsRequest } from "../getevents-request.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { collectList, collectRepeated, parseCount } from "../list-option.js";
import { describeError } from "../rpc-error.js";

interface GetEventsFlags extends GetEventsFilterFlags, ConnectionFlags {
  output: "json" | "compact";
  color: "auto" | "always" | "never";
  timestamps?: boolean;
  maxEvents?: number;
  reconnect?: boolean;
  /** Milliseconds. */
  reconnectWait: number;
}

export function registerGetEvents(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const cmd = program
    .command("getevents")
    .description(
      "Stream events from the agent, one per line; with events piped into stdin, read and filter those instead",
    )
    .addOption(
      new Option("-o, --output <format>", "output format").choices(["json", "compact"]).default("json"),
    )
    .addOption(
      new Option("--color <when>", "Colorize compact output")
        .choices(["auto", "always", "never"])
        .default("auto"),
    )
    .option("--timestamps", "prefix compact lines with the event time")
    .option("--host", "only host processes (no pod)")
    .option("-n, --namespace <namespaces>", "only these pod namespaces (exact, comma-separated)", collectList)
    .addOption(new Option("--namespaces <namespaces>").argParser(collectList).hideHelp())
    .option("--namespace-regex <regexes>", "only pod namespaces matching these regexes", collectList)
    .option("--pods <regexes>", "only pods whose name matches these regexes", collectList)
    .addOption(new Option("--pod <regexes>").argParser(collectList).hideHelp())
    .option("--processes <regexes>", "only binaries matching these regexes", collectList)
    .addOption(new Option("--process <regexes>").argParser(collectList).hideHelp())
    .addOption(
      new Option("--containers <regexes>", "only containers whose name matches these regexes").argParser(
        collectList,
      ),
    )
    .option("--policy-names <names>", "only events from these policies", collectList)
    // Repeatable, not comma-split as tetra's StringSlice is: CEL has commas of its own (macros,
    // maps, function arguments), so splitting would break the expression.
    .option(
      "--cel-expression <expression>",
      "only events satisfying this CEL expression (repeatable)",
      collectRepeated,
    )
    .option("-e, --event-types <types>", "only these event types (e.g. PROCESS_KPROBE)", collectList)
    .option(
      "-f, --include-fields <paths>",
      "keep only these fields (e.g. process.binary,function_name)",
      collectList,
    )
    .option("-F, --exclude-fields <paths>", "drop these fields", collectList)
    .option("--reconnect", "Keep trying to connect even if an error occurred")
    .addOption(
      new Option("--reconnect-wait <duration>", "wait time before attempting to reconnect")
        .argParser(parseGoDuration("--reconnect-wait"))
        .default(2000, "2s"),
    )
    .option("--max-events <n>", "stop after printing this many events", parseCount("--max-events"));
  addConnectionOptions(cmd).action(
    async (raw: GetEventsFlags & { namespaces?: string[]; pod?: string[]; process?: string[] }) => {
      const flags: GetEventsFlags = {
        ...raw,
        namespace: [...(raw.namespace ?? []), ...(raw.namespaces ?? [])],
        pods: [...(raw.pods ?? []), ...(raw.pod ?? [])],
        processes: [...(raw.processes ?? []), ...(raw.process ?? [])],
      };
      setExitCode(await runGetEvents(flags, io));
    },
  );
}

async function runGetEvents(flags: GetEventsFlags, io: CliIo): Promise<number> {
  const request = buildGetEventsRequest(flags);
  const encode =
    flags.output === "compact"
      ? (ev: GetEventsResponse) =>
          toCompact(ev, {
            timestamps: flags.timestamps,
            stackTraces: true,
            imaHash: true,
            color: useColor(flags.color, io),
          })
      : toJsonLine;
  if (flags.maxEvents === 0) return 0;

  // Every way of stopping on purpose (--max-events, Ctrl-C, a closed pipe) aborts the stream
  // and is a clean exit; only server/transport failures are errors.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const onStdoutError = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  io.stdout.on("error", onStdoutError);
  let printed = 0;
  const print = async (event: GetEventsResponse) => {
    let text: string;
    try {
      text = encode(event);
    } catch (err) {
      if (!(err instanceof CompactEncodeError)) throw err;
      // tetra logs and keeps streaming: one odd event must not end the session.
      await writeLine(io.stderr, `nsguard getevents: skipped an event: ${err.message}`);
      return;
    }
    await writeLine(io.stdout, text);
    printed++;
    if (flags.maxEvents !== undefined && printed >= flags.maxEvents) stop.abort();
  };
  try {
    // tetra's rule: events piped into stdin are read instead of connecting
    // (`tetra getevents -o compact < export.json`).
    if (!io.stdinIsCharDevice()) return await readStdin(request, io, print, stop.signal);
    const { client, address } = connect(flags, io);
    for (;;) {
      try {
        // The stream has no deadline: tetra streams on its signal context, not the --timeout one.
        for await (const event of client.getEvents(request, { signal: stop.signal })) {
          await print(event);
          if (stop.signal.aborted) break;
        }
        return 0;
      } catch (err) {
        if (stop.signal.aborted) return 0;
        const line = `nsguard getevents: ${describeError(err, address)}`;
        if (!flags.reconnect) {
          await writeLine(io.stderr, line);
          return 1;
        }
        // tetra's --reconnect: whatever ended the stream, report it, wait --reconnect-wait and
        // dial again, until a signal.
        await writeLine(io.stderr, `${line}; retrying in ${formatMs(flags.reconnectWait)}`);
        await sleep(flags.reconnectWait, stop.signal);
        if (stop.signal.aborted) return 0;
      }
    }
  } catch (err) {
    await writeLine(io.stderr, `nsguard getevents: ${describeError(err, "")}`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    io.stdout.off("error", onStdoutError);
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Reads protojson events, one per line, and applies the request's filters here with the same
 * code the agent runs. Lines that are not events are skipped, as tetra's io reader does.
 */
async function readStdin(
  request: GetEventsRequest,
  io: CliIo,
  print: (event: GetEventsResponse) => Promise<void>,
  signal: AbortSignal,
): Promise<number> {
  let pass: (ev: GetEventsResponse) => boolean;
  let shape: (ev: GetEventsResponse) => GetEventsResponse;
  try {
    pass = compileFilters(request.allowList, request.denyList);
    shape = compileFieldFilters(request.fieldFilters);
  } catch (err) {
    await writeLine(io.stderr, `nsguard getevents: ${describeError(err, "stdin")}`);
    return 1;
  }
  const lines = createInterface({ input: io.stdin(), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (signal.aborted) break;
      let event: GetEventsResponse;
      try {
        event = fromJsonString(GetEventsResponseSchema, line, { ignoreUnknownFields: true });
      } catch {
        continue;
      }
      if (pass(event)) await print(shape(event));
    }
  } finally {
    lines.close();
  }
  return 0;
}

/**
 * tetra's --color: "auto" colours when stdout is a terminal and neither NO_COLOR is set nor
 * TERM is "dumb" (fatih/color's NoColor, which tetra's Colorer consults).
 */
function useColor(mode: GetEventsFlags["color"], io: CliIo): boolean {
  if (mode !== "auto") return mode === "always";
  const noColor = io.env.NO_COLOR;
  return io.stdoutIsTerminal && (noColor === undefined || noColor === "") && io.env.TERM !== "dumb";
}
