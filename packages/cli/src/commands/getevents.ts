import type { GetEventsResponse } from "@nsguard/sdk";
import { CompactEncodeError, createNsguardClient, toCompact, toJsonLine } from "@nsguard/sdk";
import type { Command } from "commander";
import { Option } from "commander";
import type { GetEventsFilterFlags } from "../getevents-request.js";
import { buildGetEventsRequest } from "../getevents-request.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { collectList, parseCount } from "../list-option.js";
import { describeRpcError } from "../rpc-error.js";
import { defaultServerAddress } from "../server-address.js";

interface GetEventsFlags extends GetEventsFilterFlags {
  output: "json" | "compact";
  serverAddress: string;
  timestamps?: boolean;
  timeout?: number;
  maxEvents?: number;
}

export function registerGetEvents(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command("getevents")
    .description("Stream events from the agent, one per line")
    .addOption(
      new Option("-o, --output <format>", "output format").choices(["json", "compact"]).default("json"),
    )
    .option(
      "--server-address <address>",
      "agent address (host:port or unix:///path)",
      defaultServerAddress(io),
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
    .option("-e, --event-types <types>", "only these event types (e.g. PROCESS_KPROBE)", collectList)
    .option(
      "-f, --include-fields <paths>",
      "keep only these fields (e.g. process.binary,function_name)",
      collectList,
    )
    .option("-F, --exclude-fields <paths>", "drop these fields", collectList)
    .option(
      "--timeout <ms>",
      "stop streaming after this many milliseconds and exit 0",
      parseCount("--timeout"),
    )
    .option("--max-events <n>", "stop after printing this many events", parseCount("--max-events"))
    .action(async (raw: GetEventsFlags & { namespaces?: string[]; pod?: string[]; process?: string[] }) => {
      const flags: GetEventsFlags = {
        ...raw,
        namespace: [...(raw.namespace ?? []), ...(raw.namespaces ?? [])],
        pods: [...(raw.pods ?? []), ...(raw.pod ?? [])],
        processes: [...(raw.processes ?? []), ...(raw.process ?? [])],
      };
      setExitCode(await runGetEvents(flags, io));
    });
}

async function runGetEvents(flags: GetEventsFlags, io: CliIo): Promise<number> {
  const request = buildGetEventsRequest(flags);
  const encode =
    flags.output === "compact"
      ? (ev: GetEventsResponse) =>
          toCompact(ev, { timestamps: flags.timestamps, stackTraces: true, imaHash: true })
      : toJsonLine;
  if (flags.maxEvents === 0) return 0;

  // Every way of stopping on purpose (timeout, --max-events, Ctrl-C, a closed pipe) aborts
  // the stream and is a clean exit; only server/transport failures are errors.
  const stop = new AbortController();
  const timer = flags.timeout !== undefined ? setTimeout(() => stop.abort(), flags.timeout) : undefined;
  const onSignal = () => stop.abort();
  const onStdoutError = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  io.stdout.on("error", onStdoutError);
  let printed = 0;
  try {
    const client = createNsguardClient(flags.serverAddress);
    for await (const event of client.getEvents(request, { signal: stop.signal })) {
      let text: string;
      try {
        text = encode(event);
      } catch (err) {
        if (!(err instanceof CompactEncodeError)) throw err;
        // tetra logs and keeps streaming: one odd event must not end the session.
        await writeLine(io.stderr, `nsguard getevents: skipped an event: ${err.message}`);
        continue;
      }
      await writeLine(io.stdout, text);
      printed++;
      if (flags.maxEvents !== undefined && printed >= flags.maxEvents) stop.abort();
      if (stop.signal.aborted) break;
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0;
    await writeLine(io.stderr, `nsguard getevents: ${describeRpcError(err, flags.serverAddress)}`);
    return 1;
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    io.stdout.off("error", onStdoutError);
  }
}
