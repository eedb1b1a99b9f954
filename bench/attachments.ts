/**
 * Attachments: the API's memory against file size, its two routes against a floor, and uploads
 * through the client library against the SDK alone. Everything in one run, beside its floors.
 *
 * Ours is the local Functions host serving every function (bench/throughput/our-server.ts, a
 * child process whose RSS is read from /proc), with azurite's blob service (a child of this
 * process) and a real PostgreSQL database.
 *
 * 1. Memory: BENCH_ATTACHMENT_FILES files of BENCH_ATTACHMENT_SMALL_MIB, then as many of
 *    BENCH_ATTACHMENT_MIB, each uploaded through the client library (a slot from the API, the
 *    bytes straight to azurite), sent to another user and downloaded by them through the API's
 *    redirect, bytes compared. The API's RSS is sampled throughout; its growth during the large
 *    files must not exceed its growth during the small ones by half a large file (a route that
 *    held one file's bytes would add at least the whole file).
 * 2. Throughput of POST /attachments (BENCH_ATTACHMENT_USERS users in turn) and of the download
 *    redirect against bench/attachments/floor-server.ts (authenticate, sign one SAS), in
 *    interleaved rounds (median), goal 0.8x. The pending-upload limits are production's: the
 *    slots a load leaves are deleted before the next, outside its timed window, and the users
 *    are enough that none reaches ATTACHMENT_PENDING_MAX within one load (a 429 counts as failed). A third row, not a target: GET /users/me against the
 *    floor's authentication alone, the host's own share of any route's cost.
 * 3. Upload MB/s of the client library (slot included) against a direct @azure/storage-blob
 *    upload of the same bytes to the same azurite, with the SDK's defaults (one request up to
 *    256 MiB) and with the client's blocks, in turns per file during the large files.
 *
 *   npm run bench:attachments
 *   knobs: BENCH_ATTACHMENT_FILES (10), BENCH_ATTACHMENT_MIB (20), BENCH_ATTACHMENT_SMALL_MIB (1),
 *          BENCH_ATTACHMENT_USERS (600 per second of BENCH_DURATION_S or of the warm-up, the longer), BENCH_DURATION_S (5), BENCH_ROUNDS (3),
 *          BENCH_WARMUP_S (3: each side, before a route's rounds),
 *          BENCH_CONNECTIONS ("16,64"), BENCH_ROUTES (both; "upload" or "download"),
 *          BENCH_BCRYPT_COST (4), BENCH_DATABASE_URL
 * Misses are printed (MISSED), as bench:throughput does; the exit code is non-zero only when
 * the run itself fails (a server, an upload, a download or a byte comparison).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { BlockBlobClient, type BlockBlobParallelUploadOptions } from "@azure/storage-blob";
import { Client } from "pg";

import { startAzurite, type Azurite } from "../local/azurite";
import { DEFAULT_CONTAINER } from "../shared/config/config";
import { SETTINGS } from "../shared/config/settings";
import { LIFTED_LIMITS } from "../test/support/lifted-limits";
import { withBenchDatabase } from "./database-server";
import { compare as compareRounds, intKnob, login, median, startServer, WARM_UP_S, type Scenario, type Server } from "./throughput/harness";
import { createDatabase, dropDatabase, seed } from "./throughput/seed";

const MiB = 1024 * 1024;
const FILES = intKnob("BENCH_ATTACHMENT_FILES", 10);
const LARGE_MIB = intKnob("BENCH_ATTACHMENT_MIB", 20);
const SMALL_MIB = intKnob("BENCH_ATTACHMENT_SMALL_MIB", 1);
const DURATION = intKnob("BENCH_DURATION_S", 5);
// Enough users that none fills the default ATTACHMENT_PENDING_MAX within a load (a round or the
// warm-up): 600 for each second of it take 12,000 slots a second (beyond the seeded users, the
// benchmark adds its own).
const USERS = intKnob("BENCH_ATTACHMENT_USERS", 600 * Math.max(DURATION, WARM_UP_S));
const ROUNDS = intKnob("BENCH_ROUNDS", 3);
const BCRYPT_COST = intKnob("BENCH_BCRYPT_COST", 4);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "16,64").split(",").map(Number);
const ROUTES = (process.env.BENCH_ROUTES ?? "")
  .split(",")
  .map((name) => name.trim())
  .filter(Boolean);
const GOAL = 0.8;
const SAMPLE_EVERY_MS = 20;
const DATABASE = "bench_attachments";
const FILENAME = "bench.bin";
const CONTENT_TYPE = "application/octet-stream";

const mb = (bytes: number) => (bytes / MiB).toFixed(1);
const fmt = (n: number, width = 8, digits = 0) => n.toFixed(digits).padStart(width);

/** A process's resident set, in bytes, from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kib) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}

/** Samples a process's RSS until stopped; the highest reading. */
function sampleRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssOf(pid));
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await rssOf(pid));
    },
  };
}

const seconds = async (work: () => Promise<unknown>): Promise<number> => {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
};

interface Party {
  id: number;
  token: string;
}

interface Sent {
  messageId: number;
  attachmentId: string;
}

interface Timings {
  /** Seconds: the client library's upload (slot included), the SDK's with its defaults and with the client's blocks, the download. */
  ours: number;
  direct: number;
  directBlocks: number;
  download: number;
}

interface Phase {
  before: number;
  peak: number;
  after: number;
  /** Each file's timings. */
  files: Timings[];
}

/** The blob an attachment row names (the API never says it). */
async function blobNameOf(databaseUrl: string, attachmentId: string): Promise<string> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ blob_name: string }>("SELECT blob_name FROM attachments WHERE id = $1", [attachmentId]);
    return rows[0].blob_name;
  } finally {
    await client.end();
  }
}

const UPLOADER = "bench_uploader_";

/** Users of the upload route's load, beyond the seeded users, with the same password. */
async function addUploaders(databaseUrl: string, count: number): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (username, hashed_password)
       SELECT $1 || g, (SELECT hashed_password FROM users WHERE username = 'bench_user_1') FROM generate_series(1, $2) g`,
      [UPLOADER, count],
    );
  } finally {
    await client.end();
  }
}

/**
 * The slots a load left (never filled: no blob) and their queued blob deletions, so that each load
 * of the upload route starts where a user's pending uploads are in production: well below the limits.
 */
async function deletePendingUploads(databaseUrl: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ blob_name: string }>("DELETE FROM attachments WHERE message_id IS NULL RETURNING blob_name");
    await client.query("DELETE FROM attachment_blob_deletions WHERE blob_name = ANY($1)", [rows.map((r) => r.blob_name)]);
    await client.query("COMMIT");
  } finally {
    await client.end();
  }
}

async function main(adminUrl: string): Promise<void> {
  const servers: Server[] = [];
  let azurite: Azurite | undefined;
  try {
    const databaseUrl = await createDatabase(adminUrl, DATABASE);
    await seed(databaseUrl, 1000, BCRYPT_COST);
    azurite = await startAzurite({ port: 0, container: DEFAULT_CONTAINER, corsOrigins: [] });
    const common: NodeJS.ProcessEnv = {
      ...process.env,
      ...LIFTED_LIMITS,
      NODE_ENV: "production",
      SECRET_KEY: randomBytes(32).toString("hex"),
      BCRYPT_COST: String(BCRYPT_COST),
      DATABASE_URL: databaseUrl,
      WEBPUBSUB_CONNECTION_STRING: "",
      [SETTINGS.attachmentStorageConnectionString]: azurite.connectionString,
      [SETTINGS.attachmentContainer]: DEFAULT_CONTAINER,
    };
    // Production's pending-upload limits, not whatever this shell sets.
    delete common[SETTINGS.attachmentPendingMax];
    delete common[SETTINGS.attachmentPendingMaxBytes];
    // The client library is an ES module.
    const { downloadAttachment, uploadAttachment } = await import("../client/src/index.js");
    const { UPLOAD_BLOCKS } = await import("../client/src/attachments.js");
    const ours = await startServer("ours", "our-server.ts", common);
    servers.push(ours);
    const apiPid = ours.process.pid!;

    const party = async (n: number): Promise<Party> => ({ id: n, token: await login(ours.url, `bench_user_${n}`) });
    const [sender, recipient] = await Promise.all([party(1), party(2)]);
    const api = (who: Party) => ({ apiUrl: ours.url, getToken: () => who.token, fetch });

    let lastSent: Sent | undefined;
    /** Upload (the client library and the SDK alone, in turns), send, download, compare: one file end to end. */
    const roundTrip = async (data: Buffer, turn: number): Promise<Timings> => {
      const direct = (options: BlockBlobParallelUploadOptions) => async () => {
        const blob = new BlockBlobClient(azurite!.connectionString, DEFAULT_CONTAINER, `direct-${randomBytes(12).toString("hex")}`);
        const took = await seconds(() => blob.uploadData(data, options));
        await blob.delete();
        return took;
      };
      let id = "";
      const viaClient = () =>
        seconds(async () => {
          ({ id } = await uploadAttachment(api(sender), { filename: FILENAME, contentType: CONTENT_TYPE, data }));
        });
      const uploads = [viaClient, direct({}), direct(UPLOAD_BLOCKS)];
      const times: number[] = [];
      for (let i = 0; i < uploads.length; i++) {
        const which = (i + turn) % uploads.length;
        times[which] = await uploads[which]();
      }
      const sent = await fetch(`${ours.url}/messages/`, {
        method: "POST",
        headers: { authorization: `Bearer ${sender.token}`, "content-type": "application/json" },
        body: JSON.stringify({ recipient_id: recipient.id, title: "Attachment benchmark", body: "A file.", attachments: [id] }),
      });
      if (!sent.ok) throw new Error(`send with an attachment answered ${sent.status}: ${await sent.text()}`);
      const messageId = ((await sent.json()) as { id: number }).id;
      let received: Buffer = Buffer.alloc(0);
      const download = await seconds(async () => {
        received = Buffer.from(await (await downloadAttachment(api(recipient), messageId, id)).arrayBuffer());
      });
      const digest = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
      if (received.length !== data.length || digest(received) !== digest(data))
        throw new Error(`downloaded ${received.length} bytes differing from the ${data.length} uploaded`);
      lastSent = { messageId, attachmentId: id };
      return { ours: times[0], direct: times[1], directBlocks: times[2], download };
    };

    const phase = async (mib: number): Promise<Phase> => {
      const data = randomBytes(mib * MiB);
      const before = await rssOf(apiPid);
      const sampler = sampleRss(apiPid);
      const result: Phase = { before, peak: 0, after: 0, files: [] };
      for (let file = 0; file < FILES; file++) result.files.push(await roundTrip(data, file));
      result.peak = await sampler.stop();
      result.after = await rssOf(apiPid);
      return result;
    };

    // Warm-up: every route and the client once, so the first phase is not charged with loading code.
    await roundTrip(randomBytes(64 * 1024), 0);
    const small = await phase(SMALL_MIB);
    const large = await phase(LARGE_MIB);

    console.log(`\nthe API's RSS (MiB), ${FILES} files uploaded, sent and downloaded at each size`);
    console.log("size      before    peak   after  growth (peak - before)");
    for (const [mib, p] of [
      [SMALL_MIB, small],
      [LARGE_MIB, large],
    ] as const) {
      console.log(
        `${`${mib} MiB`.padEnd(8)} ${fmt(p.before / MiB, 7, 1)} ${fmt(p.peak / MiB, 7, 1)} ${fmt(p.after / MiB, 7, 1)} ${fmt((p.peak - p.before) / MiB, 7, 1)}`,
      );
    }
    const extra = large.peak - large.before - (small.peak - small.before);
    const bound = (LARGE_MIB * MiB) / 2;
    const flat = extra < bound;
    console.log(
      `growth with ${LARGE_MIB} MiB files beyond that with ${SMALL_MIB} MiB: ${mb(extra)} MiB (goal < ${mb(bound)} MiB, half of one file): ${flat ? "ok, does not grow with file size" : "MISSED, grows with file size"}`,
    );

    const rate = (of: keyof Timings) => (LARGE_MIB * MiB) / median(large.files.map((file) => file[of])) / 1e6;
    console.log(
      `\nupload of ${LARGE_MIB} MiB (median of ${FILES}, interleaved): client library ${rate("ours").toFixed(1)} MB/s (slot included); ` +
        `direct SDK upload ${rate("direct").toFixed(1)} MB/s with its defaults: ${(rate("ours") / rate("direct")).toFixed(2)}x; ` +
        `${rate("directBlocks").toFixed(1)} MB/s with the client's blocks: ${(rate("ours") / rate("directBlocks")).toFixed(2)}x`,
    );
    console.log(`download of ${LARGE_MIB} MiB through the API's redirect (median): ${rate("download").toFixed(1)} MB/s`);

    // Throughput: the download is the last large file's, by its recipient; the floor signs for the same blob.
    const { messageId, attachmentId } = lastSent!;
    const floor = await startServer("floor", path.join(__dirname, "attachments", "floor-server.ts"), {
      ...common,
      FLOOR_BLOB_NAME: await blobNameOf(databaseUrl, attachmentId),
      FLOOR_FILENAME: FILENAME,
      FLOOR_CONTENT_TYPE: CONTENT_TYPE,
    });
    servers.push(floor);

    // One after another: the API sheds concurrent sign-ins beyond its hashing queue.
    await addUploaders(databaseUrl, USERS);
    const uploaders: string[] = [];
    for (let n = 1; n <= USERS; n++) uploaders.push(await login(ours.url, `${UPLOADER}${n}`));
    const slot = JSON.stringify({ filename: "report.pdf", content_type: "application/pdf", size: 1_000_000 });
    const scenarios: Scenario[] = [
      {
        name: "upload slot",
        method: "POST",
        path: "/attachments",
        body: slot,
        clients: uploaders.map((token) => ({ token, body: slot })),
        prepare: () => deletePendingUploads(databaseUrl),
      },
      {
        name: "download redirect",
        method: "GET",
        path: `/messages/${messageId}/attachments/${attachmentId}`,
        token: recipient.token,
        success: "3xx",
      },
    ];
    // Not a target: what the host adds to a request that only authenticates, on both servers.
    scenarios.push({ name: "authenticate only", method: "GET", path: "/users/me", token: recipient.token });
    console.log(`\nthroughput, ${ROUNDS} interleaved rounds of ${DURATION} s (median); floor: authenticate and sign one SAS`);
    console.log(`${"route".padEnd(20)} conns   ours r/s  floor r/s  ratio   ours p50/p99 ms   floor p50/p99 ms  goal`);
    const misses: string[] = [];
    for (const scenario of scenarios.filter((s) => ROUTES.length === 0 || ROUTES.some((prefix) => s.name.startsWith(prefix)))) {
      for (const connections of CONNECTIONS) {
        const [a, b] = await compareRounds(ours.url, floor.url, scenario, connections, { rounds: ROUNDS, seconds: DURATION });
        const ratio = a.rps / b.rps;
        const target = scenario.name !== "authenticate only";
        const met = (!target || ratio >= GOAL) && a.failures === 0;
        if (!met) misses.push(`${scenario.name} @${connections}`);
        console.log(
          `${scenario.name.padEnd(20)} ${fmt(connections, 5)} ${fmt(a.rps, 10)} ${fmt(b.rps, 10)} ${fmt(ratio, 6, 2)} ${fmt(a.p50, 8)}/${fmt(a.p99, -1)}`.padEnd(
            80,
          ) +
            `${fmt(b.p50, 8)}/${fmt(b.p99, -1)}`.padEnd(19) +
            `${target ? (met ? "ok" : "MISSED") : "(the host's share)"}${a.failures + b.failures ? `  (${a.failures} failed ours, ${b.failures} floor)` : ""}`,
        );
      }
    }
    console.log(misses.length ? `below ${GOAL}x the floor: ${misses.join(", ")}` : `every route at ${GOAL}x the floor or better`);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.process.once("exit", resolve).kill("SIGTERM"))));
    await azurite?.close();
    await dropDatabase(adminUrl, DATABASE).catch(() => {});
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
