import { type HttpEndpoint, startHttpEndpoint } from "../metrics/http-endpoint.js";

/** A probe's answer: ok, or why not (the response body, for whoever reads the probe's output). */
export interface ProbeResult {
  ok: boolean;
  reason: string;
}

export interface HealthChecks {
  /** Liveness: the agent works (restarting it would not help when this holds). */
  live(): ProbeResult;
  /** Readiness: the sensor is loaded and the start-up policies are in. */
  ready(): ProbeResult;
}

/**
 * HTTP probes for Kubernetes (httpGet liveness/readiness probes) and scripts: `GET /healthz`
 * answers 200 while the agent is alive, `GET /readyz` 200 once it is ready, 503 with the reason
 * otherwise. Tetragon serves gRPC health on its --health-server-address; kubelet's httpGet probes
 * and `curl` need plain HTTP, which this is. Read-only, and bound to loopback by default: a
 * container sharing the host network can reach it, and learns no more than that the agent runs.
 */
export function startHealthServer(address: string, checks: HealthChecks): Promise<HttpEndpoint> {
  return startHttpEndpoint("--health-server-address", address, (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const check = path === "/healthz" ? checks.live : path === "/readyz" ? checks.ready : undefined;
    if (check === undefined) {
      res.writeHead(404).end("not found: probes are /healthz and /readyz\n");
      return;
    }
    let result: ProbeResult;
    try {
      result = check();
    } catch (err) {
      result = { ok: false, reason: `check failed: ${(err as Error).message}` };
    }
    res
      .writeHead(result.ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8" })
      .end(`${result.reason}\n`);
  });
}
