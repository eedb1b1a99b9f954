/**
 * A stand-in for `@azure/functions-core`, the module the Functions Node worker provides to
 * `@azure/functions`. Installing it before the function files load makes their `app.http`
 * and `app.timer` calls register here, exactly as they register with the real worker, so the local host
 * (and the tests) see the same names, routes, methods and handlers the host would.
 */
import Module from "node:module";

/** A trigger as the library describes it: HTTP ones have a route and methods, timers a schedule. */
export interface TriggerBinding {
  type: string;
  direction: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
}

export type RegisteredHandler = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  name: string;
  trigger: TriggerBinding;
  handler: RegisteredHandler;
}

interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, TriggerBinding>;
}

/**
 * What the library hands the worker at its first registration. The worker asks it for the
 * capabilities it reports to the host; `HttpUri` among them is how the host learns that the app
 * streams HTTP (`app.setup({ enableHttpStream: true })`) and proxies requests to that address.
 */
export interface ProgrammingModel {
  name: string;
  version: string;
  getCapabilities(workerCapabilities: Record<string, string>): Promise<Record<string, string>>;
}

const registry = new Map<string, RegisteredFunction>();
let model: ProgrammingModel | undefined;

const coreApi = {
  version: "local",
  setProgrammingModel(programmingModel: ProgrammingModel): void {
    model = programmingModel;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return model;
  },
  registerFunction(metadata: CoreFunctionMetadata, handler: RegisteredHandler) {
    if (registry.has(metadata.name)) {
      throw new Error(`A function named "${metadata.name}" is already registered`);
    }
    const trigger = Object.values(metadata.bindings).find((b) => b.direction === "in" && /trigger$/i.test(b.type));
    if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding`);
    registry.set(metadata.name, { name: metadata.name, trigger, handler });
    return { dispose: () => registry.delete(metadata.name) };
  },
  registerHook() {
    return { dispose() {} };
  },
  log(level: string, _category: string, message: string): void {
    if (level === "error" || level === "critical") console.error(message);
  },
  Disposable: class {
    dispose(): void {}
  },
};

const CORE_MODULE = "@azure/functions-core";
let installed = false;

/** Makes `require("@azure/functions-core")` resolve to this registry. Idempotent. */
export function installFunctionsCore(): void {
  if (installed) return;
  installed = true;
  const resolver = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const original = resolver._resolveFilename;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === CORE_MODULE ? CORE_MODULE : original.call(this, request, ...rest);
  };
  const mod = new Module(CORE_MODULE);
  mod.exports = coreApi;
  mod.loaded = true;
  resolver._cache[CORE_MODULE] = mod;
}

export function registeredFunctions(): RegisteredFunction[] {
  return [...registry.values()];
}

/** The programming model the last loaded copy of `@azure/functions` set, as the worker would hold it. */
export function programmingModel(): ProgrammingModel | undefined {
  return model;
}
