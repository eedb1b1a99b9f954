/**
 * The request and context the local host hands a function: what @azure/functions' HttpRequest and
 * InvocationContext give a handler, without their costs that are paid per request whether a
 * handler uses a feature or not. The library keeps its private state in module-level WeakMaps
 * (each request and context adds six entries the garbage collector must trace as ephemerons) and
 * builds a fetch Request (URL parse, header validation, an AbortSignal, a body stream) for every
 * request, a GET included. Under load those cost more than the rest of the host together.
 *
 * Here the cheap fields are built at once, exactly as the library builds them, and everything that
 * touches the body is delegated, unchanged, to the same fetch Request the library would build, made
 * on first use. test/unit/invocation.test.ts holds both classes to the library's answers.
 */
import {
  HttpRequest,
  type HttpRequestParams,
  type HttpRequestUser,
  type InvocationContext,
  type InvocationContextInit,
  type LogHandler,
} from "@azure/functions";

/** What the host knows of a request once it has read it whole. */
export interface LocalRequestInit {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The query's last value for each name, as the Functions host passes it. */
  query: Record<string, string>;
  params: HttpRequestParams;
  /** The body's bytes; ignored for GET and HEAD, as by the library. */
  body?: Buffer;
}

/** @azure/functions' HttpRequest, as the library would answer for the same request (see the file's comment). */
export class LocalHttpRequest implements HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly params: HttpRequestParams;
  private native: Request | undefined;
  private library: HttpRequest | undefined;
  /** Taken whole by readWholeBody: any later read fails as a second read does. */
  private taken = false;

  constructor(private readonly init: LocalRequestInit) {
    this.method = init.method;
    this.url = init.url;
    this.headers = new Headers(init.headers);
    this.query = new URLSearchParams(init.query);
    this.params = init.params;
  }

  /** The library's own request for the same init: for what no request of this app needs per call. */
  private asLibrary(): HttpRequest {
    const { method, url, headers, query, params } = this.init;
    const body = this.sentBody();
    return (this.library ??= new HttpRequest({ method, url, headers, query, params, body: body && { bytes: body } }));
  }

  /** The body as the library keeps it: none for GET and HEAD. */
  private sentBody(): Buffer | undefined {
    const method = this.init.method.toLowerCase();
    return method === "get" || method === "head" ? undefined : this.init.body;
  }

  /** The fetch Request the library builds for the same request. */
  private request(): Request {
    if (this.native) return this.native;
    const { method, url, headers } = this.init;
    this.native = new Request(url, { method, headers, body: this.sentBody() });
    // Its body was taken already: the read starts now, so the Request is used as after any read.
    if (this.taken) this.native.arrayBuffer().catch(() => {});
    return this.native;
  }

  /**
   * The body as the host read it, for readBody (shared/http/request.ts) to take whole without a
   * fetch Request and its stream; null once another reader has started. A GET's or HEAD's is empty.
   */
  readWholeBody(): Buffer | null {
    if (this.native || this.taken) return null;
    const body = this.sentBody();
    if (body === undefined) return Buffer.alloc(0);
    this.taken = true;
    return body;
  }

  get user(): HttpRequestUser | null {
    return this.asLibrary().user;
  }
  get body(): HttpRequest["body"] {
    return this.request().body as HttpRequest["body"];
  }
  get bodyUsed(): boolean {
    // No fetch Request yet: nothing but readWholeBody has read the body.
    return this.native?.bodyUsed ?? this.taken;
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.request().arrayBuffer();
  }
  async blob(): ReturnType<HttpRequest["blob"]> {
    return (await this.request().blob()) as Awaited<ReturnType<HttpRequest["blob"]>>;
  }
  formData(): Promise<FormData> {
    return this.request().formData();
  }
  json(): Promise<unknown> {
    return this.request().json();
  }
  text(): Promise<string> {
    return this.request().text();
  }
  clone(): HttpRequest {
    // A body already read cannot be cloned: the fetch Request refuses, with its own error, as the library's clone does.
    if (this.bodyUsed) this.request().clone();
    return new LocalHttpRequest(this.init);
  }
}

class NamedValues {
  private readonly values: Record<string, unknown> = {};
  get(nameOrBinding: string | { name: string }): unknown {
    return this.values[typeof nameOrBinding === "string" ? nameOrBinding : nameOrBinding.name];
  }
  set(nameOrBinding: string | { name: string }, value: unknown): void {
    this.values[typeof nameOrBinding === "string" ? nameOrBinding : nameOrBinding.name] = value;
  }
}

const UNKNOWN = "unknown";

/** @azure/functions' InvocationContext, field for field, with its log handler in a plain field. */
export class LocalInvocationContext implements InvocationContext {
  readonly invocationId: string;
  readonly functionName: string;
  readonly extraInputs = new NamedValues() as unknown as InvocationContext["extraInputs"];
  readonly extraOutputs = new NamedValues() as unknown as InvocationContext["extraOutputs"];
  readonly retryContext: InvocationContext["retryContext"];
  readonly traceContext: InvocationContext["traceContext"];
  readonly triggerMetadata: InvocationContext["triggerMetadata"];
  readonly options: InvocationContext["options"];
  private readonly logHandler: LogHandler;

  constructor(init: InvocationContextInit & { logHandler: LogHandler }) {
    this.invocationId = init.invocationId || UNKNOWN;
    this.functionName = init.functionName || UNKNOWN;
    this.retryContext = init.retryContext;
    this.traceContext = init.traceContext;
    this.triggerMetadata = init.triggerMetadata;
    this.options = {
      trigger: init.options?.trigger || { name: UNKNOWN, type: UNKNOWN },
      return: init.options?.return,
      extraInputs: init.options?.extraInputs || [],
      extraOutputs: init.options?.extraOutputs || [],
    };
    this.logHandler = init.logHandler;
  }

  log(...args: unknown[]): void {
    this.logHandler("information", ...args);
  }
  trace(...args: unknown[]): void {
    this.logHandler("trace", ...args);
  }
  debug(...args: unknown[]): void {
    this.logHandler("debug", ...args);
  }
  info(...args: unknown[]): void {
    this.logHandler("information", ...args);
  }
  warn(...args: unknown[]): void {
    this.logHandler("warning", ...args);
  }
  error(...args: unknown[]): void {
    this.logHandler("error", ...args);
  }
}
