/**
 * The local host's request and context (local/invocation.ts) answer as @azure/functions' own
 * HttpRequest and InvocationContext answer for the same request: every field, every body reader,
 * the errors of a body read twice, clone, the signed-in user header and each log level.
 */
import { HttpRequest, InvocationContext, type LogLevel } from "@azure/functions";
import { describe, expect, it, vi } from "vitest";

import { LocalHttpRequest, LocalInvocationContext, type LocalRequestInit } from "../../local/invocation";
import { HttpError } from "../../shared/domain/errors";
import { readBody } from "../../shared/http/request";

const principal = Buffer.from(
  JSON.stringify({ auth_typ: "aad", claims: [{ typ: "name", val: "Ada" }], name_typ: "name", role_typ: "roles" }),
).toString("base64");

const REQUESTS: Record<string, LocalRequestInit> = {
  "GET with a query and params": {
    method: "GET",
    url: "http://127.0.0.1:7071/messages/12/read?limit=5&q=caf%C3%A9%20au%20lait&limit=7",
    headers: { host: "127.0.0.1:7071", authorization: "Bearer abc", "x-forwarded-proto": "https", accept: "*/*" },
    // The host passes each name's last value, as the Functions host does.
    query: { limit: "7", q: "café au lait" },
    params: { message_id: "12" },
  },
  "GET that came with a body": {
    method: "GET",
    url: "http://127.0.0.1:7071/users/me",
    headers: { host: "127.0.0.1:7071", "content-length": "2" },
    query: {},
    params: {},
    body: Buffer.from("{}"),
  },
  "HEAD with a body": { method: "HEAD", url: "http://127.0.0.1:7071/", headers: {}, query: {}, params: {}, body: Buffer.from("x") },
  "POST of JSON": {
    method: "POST",
    url: "http://127.0.0.1:7071/messages/",
    headers: { "content-type": "application/json", "content-length": "40" },
    query: {},
    params: {},
    body: Buffer.from(JSON.stringify({ to: [2], title: "héllo", body: "b" })),
  },
  "POST of a form": {
    method: "POST",
    url: "http://127.0.0.1:7071/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    query: {},
    params: {},
    body: Buffer.from("username=ada&password=p%40ss&username=other"),
  },
  "POST of bad JSON": {
    method: "POST",
    url: "http://127.0.0.1:7071/messages/",
    headers: { "content-type": "application/json" },
    query: {},
    params: {},
    body: Buffer.from("{not json"),
  },
  "POST without a body": { method: "POST", url: "http://127.0.0.1:7071/x", headers: {}, query: {}, params: {}, body: Buffer.alloc(0) },
  "DELETE with the signed-in user headers": {
    method: "DELETE",
    url: "http://127.0.0.1:7071/users/me",
    headers: {
      "x-ms-client-principal": principal,
      "x-ms-client-principal-id": "5e1d",
      "x-ms-client-principal-name": "Ada",
      "x-ms-client-principal-idp": "aad",
    },
    query: {},
    params: {},
  },
};

const library = (init: LocalRequestInit): HttpRequest => {
  const bodyless = init.method === "GET" || init.method === "HEAD";
  return new HttpRequest({ ...init, body: init.body && !bodyless ? { bytes: init.body } : undefined });
};

/** What a request shows without reading its body. */
const fields = (r: HttpRequest) => ({
  method: r.method,
  url: r.url,
  headers: [...r.headers.entries()],
  query: [...r.query.entries()],
  params: r.params,
  user: r.user,
  hasBody: r.body !== null,
  bodyUsed: r.bodyUsed,
});

/** A read's outcome, a failure included (its error's type and message). */
const settle = async (read: () => Promise<unknown>) => {
  try {
    const value = await read();
    if (value instanceof ArrayBuffer) return { bytes: [...new Uint8Array(value)] };
    if (value instanceof Blob) return { blob: [...new Uint8Array(await value.arrayBuffer())], type: value.type };
    if (value instanceof FormData) return { form: [...value.entries()] };
    return { value };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
};

type Reader = (r: HttpRequest) => Promise<unknown>;
const READERS: Record<string, Reader> = {
  text: (r) => r.text(),
  json: (r) => r.json(),
  arrayBuffer: (r) => r.arrayBuffer(),
  blob: (r) => r.blob(),
  formData: (r) => r.formData(),
  stream: async (r) => {
    if (!r.body) return null;
    const chunks: number[] = [];
    const reader = r.body.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(...(next.value as Uint8Array));
    return chunks;
  },
};

describe("the local host's request", () => {
  for (const [name, init] of Object.entries(REQUESTS)) {
    it(`${name}: the same fields as the library's`, () => {
      expect(fields(new LocalHttpRequest(init))).toEqual(fields(library(init)));
    });

    it(`${name}: each body reader answers as the library's, once and then again`, async () => {
      for (const [readerName, read] of Object.entries(READERS)) {
        const [ours, theirs] = [new LocalHttpRequest(init), library(init)];
        const outcome = async (r: HttpRequest) => ({
          first: await settle(() => read(r)),
          used: r.bodyUsed,
          again: await settle(() => r.text()),
        });
        expect(await outcome(ours), readerName).toEqual(await outcome(theirs));
      }
    });

    it(`${name}: readBody takes the body whole from ours, streams the library's, and leaves both alike`, async () => {
      const [ours, theirs] = [new LocalHttpRequest(init), library(init)];
      const taken = vi.spyOn(ours, "readWholeBody");
      const outcome = async (r: HttpRequest) => ({
        read: await settle(async () => [...(await readBody(r, 1024))]),
        used: r.bodyUsed,
        again: await settle(() => r.text()),
        clone: (await settle(async () => r.clone())).error,
      });
      expect(await outcome(ours)).toEqual(await outcome(theirs));
      const sent = init.method === "GET" || init.method === "HEAD" ? undefined : init.body;
      expect(taken).toHaveReturnedWith(sent ?? Buffer.alloc(0));
      // Over the limit: 413 from the whole body as from the stream.
      const size = init.body?.length ?? 0;
      if (size > 1 && init.method !== "GET" && init.method !== "HEAD")
        for (const r of [new LocalHttpRequest(init), library(init)]) await expect(readBody(r, size - 1)).rejects.toBeInstanceOf(HttpError);
    });

    it(`${name}: a clone reads the same body, and a request read already cannot be cloned`, async () => {
      const [ours, theirs] = [new LocalHttpRequest(init), library(init)];
      const [ourClone, theirClone] = [ours.clone(), theirs.clone()];
      expect(fields(ourClone)).toEqual(fields(theirClone));
      expect(await settle(() => ourClone.text())).toEqual(await settle(() => theirClone.text()));
      await Promise.all([ours.text(), theirs.text()]);
      const refusal = (r: HttpRequest) => settle(async () => r.clone());
      expect((await refusal(ours)).error).toEqual((await refusal(theirs)).error);
    });
  }
});

describe("the local host's invocation context", () => {
  const init = { invocationId: "4f1c", functionName: "messages-send" };

  it("has the library's fields, defaults included", () => {
    const shape = (c: InvocationContext) => ({
      invocationId: c.invocationId,
      functionName: c.functionName,
      retryContext: c.retryContext,
      traceContext: c.traceContext,
      triggerMetadata: c.triggerMetadata,
      options: c.options,
    });
    const noLog = () => {};
    expect(shape(new LocalInvocationContext({ ...init, logHandler: noLog }))).toEqual(
      shape(new InvocationContext({ ...init, logHandler: noLog })),
    );
    expect(shape(new LocalInvocationContext({ logHandler: noLog }))).toEqual(shape(new InvocationContext({ logHandler: noLog })));
  });

  it("logs each level to the handler as the library does, and keeps extra inputs and outputs by name", () => {
    const logged = (make: (logHandler: (level: LogLevel, ...args: unknown[]) => void) => InvocationContext) => {
      const lines: unknown[][] = [];
      const context = make((level, ...args) => lines.push([level, ...args]));
      context.log("a", 1);
      context.trace("b");
      context.debug("c");
      context.info("d");
      context.warn("e");
      context.error("f", { g: 2 });
      context.extraInputs.set("blob", "in");
      context.extraOutputs.set({ name: "queue", type: "queue" }, "out");
      return { lines, input: context.extraInputs.get({ name: "blob", type: "blob" }), output: context.extraOutputs.get("queue") };
    };
    expect(logged((logHandler) => new LocalInvocationContext({ ...init, logHandler }))).toEqual(
      logged((logHandler) => new InvocationContext({ ...init, logHandler })),
    );
  });
});
