/**
 * The one place the app hands functions and start-up work to the Functions host.
 *
 * Run from source (the local host, the tests, `func start` on a dev build) every function file
 * registers with `app.http` (or `app.timer`) as it loads. The deployed bundle instead loads a small generated
 * entry (scripts/build.mjs) that registers every function from a manifest and imports a
 * function's code on its first call: the host indexes the app in a fraction of the time it
 * takes to load zod, pg and the Azure SDKs, and a function never loads what only others use.
 * In that mode the function files, loaded late, must not call `app.http` (the worker refuses
 * registrations after start-up), so their handlers and start-up hooks are kept here instead.
 *
 * This module imports nothing but @azure/functions: the generated entry loads it first.
 */
import { app, type HttpHandler, type HttpMethod, type InvocationContext } from "@azure/functions";

export interface HttpFunction {
  name: string;
  route: string;
  methods: HttpMethod[];
  handler: HttpHandler;
}

/**
 * Housekeeping on a schedule: `schedule` is an NCRONTAB expression of six fields, seconds first
 * (`0 30 * * * *`: at half past every hour), read in UTC. The Functions host runs one invocation at a
 * time across all instances; the local host runs it on the same schedule.
 */
export interface TimerFunction {
  name: string;
  schedule: string;
  handler: (context: InvocationContext) => Promise<void>;
}

export type StartHook = () => Promise<void>;

interface Deferred {
  functions: Map<string, HttpFunction>;
  timers: Map<string, TimerFunction>;
  startHooks: StartHook[];
}

let deferred: Deferred | undefined;

/** Registers an HTTP function now, or keeps it for the generated entry when registration is deferred. */
export function registerHttpFunction(fn: HttpFunction): void {
  if (deferred) {
    deferred.functions.set(fn.name, fn);
    return;
  }
  app.http(fn.name, { route: fn.route, methods: fn.methods, authLevel: "anonymous", handler: fn.handler });
}

/** Registers a timer-triggered function now, or keeps it for the generated entry when registration is deferred. */
export function registerTimerFunction(fn: TimerFunction): void {
  if (deferred) {
    deferred.timers.set(fn.name, fn);
    return;
  }
  app.timer(fn.name, { schedule: fn.schedule, handler: (_timer, context) => fn.handler(context) });
}

/** Work to finish before the instance serves (the host's app-start hook), or kept when deferred. */
export function onAppStart(hook: StartHook): void {
  if (deferred) deferred.startHooks.push(hook);
  else app.hook.appStart(hook);
}

/** Called by the generated entry before any function file loads. */
export function deferRegistrations(): Deferred {
  deferred ??= { functions: new Map(), timers: new Map(), startHooks: [] };
  return deferred;
}

let loadEveryFunction: () => Promise<void> = async () => {};

/** The generated entry says how to load every function file (the OpenAPI document describes them all). */
export function setFunctionLoader(load: () => Promise<void>): void {
  loadEveryFunction = load;
}

/** Resolves once every function file has loaded; at once when they load with the app. */
export const everyFunctionLoaded = (): Promise<void> => loadEveryFunction();
