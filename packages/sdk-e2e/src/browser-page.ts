// The page the browser test loads (bundled by esbuild for the browser). It imports the
// package root: a browser bundler resolves it through the "browser" export condition to the
// web entry. It streams over both browser protocols from its own origin and reports on window.
import { createNsguardWebClient, EventType, filter, streamEvents } from "@nsguard/sdk";
import type {} from "./page-report.js";

window.nsguardReceived = [];
window.nsguardErrors = [];
const request = { allowList: [filter().eventTypes(EventType.PROCESS_KPROBE).podRegex("^web-").build()] };
for (const protocol of ["grpc-web", "connect"] as const) {
  void (async () => {
    try {
      const client = createNsguardWebClient(location.origin, { protocol });
      for await (const event of streamEvents(client, request)) {
        const process = event.event.case === "processKprobe" ? event.event.value.process : undefined;
        window.nsguardReceived.push({
          protocol,
          binary: process?.binary ?? "",
          pod: process?.pod?.name ?? "",
        });
        return;
      }
    } catch (e) {
      window.nsguardErrors.push(`${protocol}: ${String(e)}`);
    }
  })();
}
