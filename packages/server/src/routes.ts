import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import {
  FineGuidanceSensors,
  type HealthStatus,
  HealthStatusResult,
  HealthStatusSchema,
  HealthStatusType,
} from "@nsguard/sdk";
import { toConnectError } from "./errors.js";
import { createGetEventsHandler } from "./get-events.js";
import { GRPC_POLICY_DOMAIN, type PolicyStore, type ServerDeps } from "./interfaces.js";

/** The name GetInfo reports (Tetragon reports "tetragon"). */
export const SERVER_NAME = "nsguard";

type Impl = ServiceImpl<typeof FineGuidanceSensors>;

/**
 * Route definitions for `tetragon.FineGuidanceSensors`, for `connectNodeAdapter`,
 * `startServer` or any connect-es server integration.
 */
export function createFineGuidanceSensorsRoutes(deps: ServerDeps): (router: ConnectRouter) => void {
  const impl = createFineGuidanceSensorsImpl(deps);
  return (router) => {
    router.service(FineGuidanceSensors, impl);
  };
}

/**
 * The service implementation behind {@link createFineGuidanceSensorsRoutes}. Every RPC of the
 * service is present: the ones nsguard does not serve answer Unimplemented (or, for the
 * deprecated policy RPCs, FailedPrecondition as Tetragon refuses them) with a message naming
 * the RPC, instead of connect's generic 404-style answer.
 */
export function createFineGuidanceSensorsImpl(deps: ServerDeps): Impl {
  const policies = (rpc: string): PolicyStore => {
    if (deps.policies === undefined) {
      throw new ConnectError(`${rpc} is not available: this server has no policy store`, Code.Unimplemented);
    }
    return deps.policies;
  };

  const deprecatedPolicyToggle = (rpc: string, enable: boolean) => {
    return async (req: { name: string; namespace: string; domain: string }) => {
      if (!deps.enableDeprecatedTracingPolicyGrpc) {
        // Tetragon's wording; it sends it as Unknown (a plain Go error), FailedPrecondition
        // says more precisely that the call is refused by configuration.
        throw new ConnectError(
          `${rpc} is deprecated and will be removed in the next release. ` +
            "Use ConfigureTracingPolicy, or the --enable-deprecated-tracingpolicy-grpc option in the meantime",
          Code.FailedPrecondition,
        );
      }
      const store = policies(rpc);
      await call(() =>
        store.configure({
          name: req.name,
          namespace: req.namespace,
          domain: domainOrDefault(req.domain),
          enable,
        }),
      );
      return {};
    };
  };

  const impl: Partial<Impl> = {
    getEvents: createGetEventsHandler(deps.events, {
      queueSize: deps.eventQueueSize,
      queueBytes: deps.eventQueueBytes,
    }),

    async getHealth() {
      const healthStatus = deps.health?.health
        ? await call(() => deps.health?.health?.() ?? [])
        : [runningStatus()];
      const pipeline = deps.health?.pipeline ? await call(() => deps.health?.pipeline?.()) : undefined;
      return { healthStatus, pipeline };
    },

    getVersion() {
      return { version: deps.version };
    },

    getInfo() {
      return { ...deps.info, version: deps.version, name: SERVER_NAME };
    },

    async addTracingPolicy(req) {
      const store = policies("AddTracingPolicy");
      await call(() => store.add(req.yaml, domainOrDefault(req.domain)));
      return {};
    },

    async deleteTracingPolicy(req) {
      const store = policies("DeleteTracingPolicy");
      await call(() => store.delete(req.name, req.namespace, domainOrDefault(req.domain)));
      return {};
    },

    async listTracingPolicies(req) {
      const store = policies("ListTracingPolicies");
      // An empty domain lists every domain (Tetragon does the same).
      return { policies: await call(() => store.list(req.domain === "" ? undefined : req.domain)) };
    },

    async configureTracingPolicy(req) {
      const store = policies("ConfigureTracingPolicy");
      await call(() =>
        store.configure({
          name: req.name,
          namespace: req.namespace,
          domain: domainOrDefault(req.domain),
          enable: req.enable,
          mode: req.mode,
        }),
      );
      return {};
    },

    async listDomains() {
      const store = policies("ListDomains");
      if (store.domains) {
        const domains = store.domains.bind(store);
        return { domains: await call(() => domains()) };
      }
      const listed = await call(() => store.list());
      return { domains: [...new Set(listed.map((p) => p.domain).filter((d) => d !== ""))].sort() };
    },

    enableTracingPolicy: deprecatedPolicyToggle("EnableTracingPolicy", true),
    disableTracingPolicy: deprecatedPolicyToggle("DisableTracingPolicy", false),

    listSensors() {
      // Tetragon's exact message; tetra prints it.
      throw new ConnectError("ListSensors is deprecated", Code.Unimplemented);
    },
  };

  for (const method of FineGuidanceSensors.methods) {
    const name = method.localName as keyof Impl;
    if (impl[name] === undefined) {
      const message = deprecatedSensorRpcs.has(method.name)
        ? `${method.name} is deprecated and not implemented by ${SERVER_NAME}`
        : `${method.name} is not implemented by ${SERVER_NAME}`;
      (impl as Record<string, unknown>)[name] = () => {
        throw new ConnectError(message, Code.Unimplemented);
      };
    }
  }
  return impl as Impl;
}

const deprecatedSensorRpcs = new Set(["EnableSensor", "DisableSensor", "RemoveSensor"]);

function domainOrDefault(domain: string): string {
  return domain === "" ? GRPC_POLICY_DOMAIN : domain;
}

/** What Tetragon's agent always answers (pkg/health). */
function runningStatus(): HealthStatus {
  return create(HealthStatusSchema, {
    event: HealthStatusType.STATUS,
    status: HealthStatusResult.HEALTH_STATUS_RUNNING,
    details: "running",
  });
}

/** Runs a dependency call, turning whatever it throws into a ConnectError (errors.ts). */
async function call<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}
