/**
 * fast-check arbitraries for HTTP requests to the API, valid and hostile mixed, built from
 * each function's registered route and methods (so a new function is fuzzed without being
 * named here), with field knowledge for the ones whose bodies and queries we know.
 */
import http from "node:http";
import fc from "fast-check";

/** Strings PostgreSQL, URL decoders, JSON parsers or terminals have trouble with. */
export const HOSTILE_TEXT = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfff",
  "\ud83d",
  "\ud83d\ude00",
  "\u202e\u0301\ufeff",
  "\uffff\ufffe",
  "\u0085\u2028\u2029",
  "\u001b[31m",
  "e\u0301",
  "İstanbul",
  "ß".repeat(60),
  "x".repeat(300),
  " ",
  "",
  "%zz",
  "%",
  "%00",
  "'; DROP TABLE users; --",
  "\\",
  '"',
  "../../package.json",
  "null",
  "-1",
  "1e309",
  "0x10",
  "١٢٣",
  "NaN",
];

const hostileText = fc.constantFrom(...HOSTILE_TEXT);
export const anyText = fc.oneof(
  { weight: 3, arbitrary: hostileText },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.array(fc.oneof(hostileText, fc.string({ maxLength: 3 })), { maxLength: 6 }).map((parts) => parts.join("")) },
);

const hugeNumbers = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 2 ** 53 + 1, 1e308, -1e308, 1.5, 5e-324, 1e21];
const numericStrings = ["2", " 3 ", "+4", "99999999999999999999", "2147483648", "-0", "1e3", "0x1f", "1_000", "١", ""];
export const anyNumberish = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom<number | string>(...hugeNumbers, ...numericStrings),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

/** A JSON value of any type, hostile text and huge numbers included. */
export const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: anyText },
  { weight: 3, arbitrary: anyNumberish },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Percent-encodes any string, lone surrogates included (as the UTF-8 their replacement character takes). */
export function pct(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`).join("");
  }
}

/** Fragments of a URL that no encoder would produce. */
const RAW_URL_FRAGMENTS = [
  "%zz",
  "%",
  "%E0%A4%A",
  "%ED%A0%80",
  "%C0%AF",
  "%FF%FE",
  "%00",
  "%2F",
  "%2e%2e",
  "..",
  "//",
  ";",
  "+",
  "&&",
  "=",
  "a=b=c",
  "%25",
  "~",
];
const rawFragment = fc.constantFrom(...RAW_URL_FRAGMENTS);

/** One URL segment or query value: usually encoded text, sometimes raw broken escapes. */
export const urlPiece = fc.oneof(
  { weight: 3, arbitrary: anyText.map(pct) },
  { weight: 2, arbitrary: rawFragment },
  { weight: 1, arbitrary: fc.tuple(anyText.map(pct), rawFragment, anyText.map(pct)).map((parts) => parts.join("")) },
);

/** Node's HTTP client sends header values as latin1 and refuses control bytes; those go over raw sockets instead. */
export const latin1 = (text: string) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");

export interface Identities {
  /** Valid bearer tokens of existing users. */
  tokens: string[];
  /** Ids of existing users (recipients). */
  userIds: number[];
  /** Ids of existing messages. */
  messageIds: number[];
  /**
   * Valid bearer tokens of throwaway users, for functions whose calls may end the caller's sessions
   * or delete the caller. Read when a request is generated: the test replaces a spent one.
   */
  accountTokens: string[];
  /** Bearer tokens that must be refused: expired, wrong key, for a user that does not exist. */
  badTokens: string[];
  eventHandlerKey: string;
  allowedOrigin: string;
}

export interface FuzzRequest {
  /** The function the request was generated for. */
  fn: string;
  method: string;
  /** Path and query, already encoded (or deliberately broken). */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** What a generator knows about one function beyond its route: query names and body fields. */
export interface FunctionShape {
  query?: Record<string, fc.Arbitrary<string>>;
  json?: Record<string, fc.Arbitrary<unknown>>;
  form?: Record<string, fc.Arbitrary<string>>;
  /** Extra headers this function reads. */
  headers?: Record<string, fc.Arbitrary<string>>;
  /** How path parameters are valid. */
  params?: Record<string, fc.Arbitrary<string>>;
  /** Whether the function needs a bearer token (then one is usually sent). */
  auth?: boolean;
  /** Send the throwaway users' tokens (Identities.accountTokens) instead of the shared ones. */
  throwawayCaller?: boolean;
}

export interface RouteInfo {
  name: string;
  route: string;
  methods: string[];
}

const OTHER_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PURGE", "FOO"];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.api+json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=fuzzboundary",
  "multipart/form-data",
  "text/plain",
  "application/octet-stream",
  "",
  "a/b/c;;=",
  "application/json; charset=utf-16",
];

const MULTIPART_BOUNDARY = "fuzzboundary";

function multipart(fields: [string, string][]): string {
  return `${fields.map(([k, v]) => `--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join("")}--${MULTIPART_BOUNDARY}--\r\n`;
}

/** A body: the function's fields valid or mutated, or something else entirely. */
function bodyArbitrary(shape: FunctionShape): fc.Arbitrary<{ contentType?: string; body?: Buffer }> {
  const jsonFields = shape.json ?? {};
  const mutatedJson = fc
    .record(
      Object.fromEntries(
        Object.entries(jsonFields).map(([k, valid]) => [
          k,
          fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: anyJsonValue }),
        ]),
      ),
      { requiredKeys: [] },
    )
    .chain((record) => fc.tuple(fc.constant(record), fc.dictionary(anyText, anyJsonValue, { maxKeys: 2 })))
    .map(([record, extra]) => ({ ...extra, ...record }));
  const jsonText = fc.oneof(
    { weight: 4, arbitrary: mutatedJson.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: anyJsonValue.map((value) => JSON.stringify(value) ?? "null") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "{",
        "",
        "null",
        "[]",
        '{"a":',
        "{'a':1}",
        '{"title":"\\u0000"}',
        '{"body":"\\ud800"}',
        "[".repeat(5000),
        "\u0000",
        "1".repeat(400),
      ),
    },
  );
  const formFields = shape.form ?? {};
  const form = fc
    .record(
      Object.fromEntries(
        Object.entries(formFields).map(([k, valid]) => [k, fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: anyText })]),
      ),
      { requiredKeys: [] },
    )
    .map((record) => Object.entries(record) as [string, string][]);
  const formBody = fc.oneof(
    form.map((fields) => ({ contentType: "application/x-www-form-urlencoded", body: Buffer.from(new URLSearchParams(fields).toString()) })),
    form.map((fields) => ({ contentType: `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`, body: Buffer.from(multipart(fields)) })),
    fc
      .array(urlPiece, { maxLength: 6 })
      .map((pieces) => ({ contentType: "application/x-www-form-urlencoded", body: Buffer.from(pieces.join("&")) })),
  );
  const jsonBody = jsonText.map((text) => ({ contentType: "application/json", body: Buffer.from(text, "utf8") }));
  const mismatched = fc.record({
    contentType: fc.constantFrom(...CONTENT_TYPES),
    body: fc.oneof(
      jsonText.map((t) => Buffer.from(t)),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    ),
  });
  const preferred = shape.form ? formBody : shape.json ? jsonBody : fc.constant({});
  return fc.oneof({ weight: 5, arbitrary: preferred }, { weight: 2, arbitrary: mismatched }, { weight: 1, arbitrary: fc.constant({}) });
}

function pathArbitrary(route: string, shape: FunctionShape): fc.Arbitrary<string> {
  const segments = route.split("/").filter(Boolean);
  const parts = segments.map((segment) => {
    const param = /^\{\*?(\w+)(?::\w+)?\??\}$/.exec(segment);
    if (!param)
      return fc.oneof({ weight: 6, arbitrary: fc.constant(segment) }, { weight: 1, arbitrary: fc.constant(segment.toUpperCase()) });
    const valid = shape.params?.[param[1]] ?? fc.constant("1");
    return fc.oneof(
      { weight: 2, arbitrary: valid },
      { weight: 2, arbitrary: urlPiece },
      { weight: 1, arbitrary: anyNumberish.map((n) => pct(String(n))) },
    );
  });
  const suffix = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom("", "/") },
    { weight: 1, arbitrary: urlPiece.map((p) => `/${p}`) },
    { weight: 1, arbitrary: fc.constantFrom("//", "/.", "/%2e%2e/") },
  );
  return fc.tuple(fc.tuple(...parts), suffix).map(([ps, end]) => `/${ps.join("/")}${end}`);
}

function queryArbitrary(shape: FunctionShape): fc.Arbitrary<string> {
  const known = Object.entries(shape.query ?? {});
  const pair = fc.oneof(
    ...(known.length
      ? [
          {
            weight: 4,
            arbitrary: fc.constantFrom(...known).chain(([k, valid]) => fc.oneof(valid.map(pct), urlPiece).map((v) => `${k}=${v}`)),
          },
        ]
      : []),
    { weight: 1, arbitrary: fc.tuple(urlPiece, urlPiece).map(([k, v]) => `${k}=${v}`) },
    { weight: 1, arbitrary: rawFragment },
  );
  return fc.array(pair, { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.join("&")}` : ""));
}

function headerArbitrary(shape: FunctionShape, ids: Identities): fc.Arbitrary<Record<string, string>> {
  const valid = shape.throwawayCaller
    ? fc.nat({ max: ids.accountTokens.length - 1 }).map((i) => ids.accountTokens[i])
    : fc.constantFrom(...ids.tokens);
  const authorization = fc.oneof(
    { weight: shape.auth ? 6 : 1, arbitrary: valid.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(...ids.badTokens).map((t) => `Bearer ${t}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer\tx",
        "Bearer a.b.c",
        "Bearer \u00e9\u00ff",
        "Bearer " + "x".repeat(5000),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...ids.tokens).map((t) => `Bearer ${t.slice(0, -2)}${t.endsWith("A") ? "B" : "A"}x`) },
  );
  const host = fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("a b", "a:99999", "", "a/b", "u@h", "[::1", "\u00e9.example", "localhost:", "example.com:80") },
  );
  const extras = fc.dictionary(
    fc.constantFrom(
      "accept",
      "accept-encoding",
      "x-forwarded-for",
      "if-none-match",
      "range",
      "idempotency-key",
      "content-encoding",
      "x-ms-client-request-id",
      "cookie",
    ),
    anyText.map(latin1),
    { maxKeys: 2 },
  );
  const shaped = fc.record(
    Object.fromEntries(Object.entries(shape.headers ?? {}).map(([name, valid]) => [name, fc.oneof(valid, anyText.map(latin1))])),
    { requiredKeys: [] },
  );
  return fc
    .record({
      authorization,
      host,
      origin: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(ids.allowedOrigin, "https://evil.example", "null") },
      ),
      extras,
      shaped,
    })
    .map(({ authorization, host, origin, extras, shaped }) => {
      const headers: Record<string, string> = { ...extras };
      for (const [name, value] of Object.entries(shaped)) if (value !== undefined) headers[name] = value;
      if (authorization !== undefined) headers.authorization = authorization;
      if (host !== undefined) headers.host = host;
      if (origin !== null) headers.origin = origin;
      return headers;
    });
}

/** Requests for one function: its own method mostly, others sometimes; its fields, valid or not. */
export function requestArbitrary(info: RouteInfo, shape: FunctionShape, ids: Identities): fc.Arbitrary<FuzzRequest> {
  const method = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...info.methods) },
    { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
  );
  const preflight = fc.constantFrom<Record<string, string>>(
    { origin: ids.allowedOrigin, "access-control-request-method": info.methods[0] },
    { origin: "https://evil.example", "access-control-request-method": info.methods[0], "access-control-request-headers": "authorization" },
  );
  return fc
    .record({
      method,
      path: pathArbitrary(info.route, shape),
      query: queryArbitrary(shape),
      headers: headerArbitrary(shape, ids),
      body: bodyArbitrary(shape),
      preflight: fc.oneof({ weight: 14, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: preflight }),
    })
    .map(({ method, path, query, headers, body, preflight }) => {
      const all: Record<string, string> = { ...headers, ...(preflight ?? {}) };
      const withBody = method !== "GET" && method !== "HEAD" && body.body !== undefined;
      if (withBody && body.contentType) all["content-type"] = body.contentType;
      return {
        fn: info.name,
        method: preflight ? "OPTIONS" : method,
        target: `${path}${query}`,
        headers: all,
        body: withBody ? body.body : undefined,
      };
    });
}

export interface FuzzResponse {
  status: number;
  contentType: string;
  text: string;
}

/** Sends one request with Node's client, which allows any method, Host and latin1 header value. */
export function sendRequest(port: number, request: FuzzRequest, agent: http.Agent, retried = false): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: request.method,
        path: request.target,
        headers: { ...request.headers, ...(request.body ? { "content-length": String(request.body.length) } : {}) },
        setHost: request.headers.host === undefined,
        agent,
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as it was reused: the request never arrived.
      if (!retried && req.reusedSocket && error.code === "ECONNRESET") resolve(sendRequest(port, request, agent, true));
      else reject(error);
    });
    req.end(request.body);
  });
}

/** Why a response breaks the rules (a 5xx, or an error without a JSON `detail`), or null. */
export function ruleBroken(request: { method: string }, response: FuzzResponse): string | null {
  if (response.status >= 500) return `status ${response.status}`;
  if (response.status < 400 || request.method === "HEAD") return null;
  if (!response.contentType.includes("application/json")) return `status ${response.status} with content-type "${response.contentType}"`;
  try {
    const body = JSON.parse(response.text) as { detail?: unknown };
    const detail = body.detail;
    if (typeof detail === "string" && detail.length > 0) return null;
    if (Array.isArray(detail) && detail.length > 0) return null;
    return `status ${response.status} without a detail: ${response.text.slice(0, 200)}`;
  } catch {
    return `status ${response.status} with a body that is not JSON: ${response.text.slice(0, 200)}`;
  }
}

// Placeholders expanded by expandRaw(), so a failing case prints short.
const BIG = "<20k-bytes>";
const LONG = "<8k-path>";
export const expandRaw = (bytes: string) => bytes.replace(BIG, "b".repeat(20_000)).replace(LONG, "a".repeat(8_000));

/** Whole requests as bytes (placeholders expanded by expandRaw), for what no HTTP client sends: broken request lines, bad Host values, control bytes in headers. */
export function rawRequestArbitrary(paths: string[]): fc.Arbitrary<string> {
  const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "get", "G ET", "", "CONNECT", "\u0000", "PRI", "FOO");
  const target = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...paths) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "*",
        "//",
        "",
        "/a b",
        "/\u0000",
        "/h\u00ffx",
        "/\u00e9",
        "http://x/health",
        "https://x/users/",
        "x",
        "/%",
        "/messages/%zz/read",
        "/messages/%ED%A0%80/read",
        "/?q=%00",
        `/${LONG}`,
      ),
    },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...paths), rawPathNoise).map(([p, n]) => `${p}${n}`) },
  );
  const version = fc.oneof(
    { weight: 6, arbitrary: fc.constant("HTTP/1.1") },
    { weight: 1, arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "http/1.1", "", "HTTP/9.9") },
  );
  const host = fc.oneof(
    { weight: 3, arbitrary: fc.constant("Host: 127.0.0.1\r\n") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "",
        "Host: a b\r\n",
        "Host: a:99999\r\n",
        "Host:\r\n",
        "Host: x\r\nHost: y\r\n",
        "Host: \u00e9\r\n",
        "Host: a\u0000\r\n",
        "Host: [::1\r\n",
        "Host: u@h\r\n",
      ),
    },
  );
  const header = fc.constantFrom(
    "Authorization: Bearer a\u0000b\r\n",
    "Idempotency-Key: k\u0001\r\n",
    "Idempotency-Key: \u00ff\u00fe\r\n",
    "X-Latin: \u00e9\u00ff\r\n",
    "NoColon\r\n",
    " folded: y\r\n",
    "Content-Length: abc\r\n",
    "Content-Length: -1\r\n",
    `X-Big: ${BIG}\r\n`,
    "Expect: weird\r\n",
    "Content-Type: application/json\r\n",
    "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n",
    ": empty-name\r\n",
    "X-Tab:\tvalue\r\n",
  );
  const body = fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"username":"a\\u0000","password":"x"}', "{", "\u0000\u00ff", "username=%00&password=x")
        .map((b) => `Content-Length: ${Buffer.byteLength(b, "latin1")}\r\n\r\n${b}`),
    },
    { weight: 1, arbitrary: fc.constant("Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n") },
  );
  const lineEnd = fc.oneof({ weight: 8, arbitrary: fc.constant("\r\n") }, { weight: 1, arbitrary: fc.constant("\n") });
  return fc
    .record({ method, target, version, host, headers: fc.array(header, { maxLength: 2 }), body, lineEnd })
    .map(({ method, target, version, host, headers, body, lineEnd }) => {
      const head = `${method} ${target} ${version}\r\n${host}${headers.join("")}Connection: close\r\n`.replaceAll("\r\n", lineEnd);
      return body.startsWith("Content-Length") || body.startsWith("Transfer-Encoding") ? `${head}${body}` : `${head}${lineEnd}`;
    });
}

const rawPathNoise = fc.constantFrom("%zz", "%", "%00", "\u00ff", "?a=%zz&b=%00", "/../..", "#frag", "?", "%C0%AF", ";x");
