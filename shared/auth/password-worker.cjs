// One password-hashing thread of shared/auth/password-hasher.ts: bcryptjs's synchronous hash and
// compare, at a lowered scheduling priority so the request thread runs first. Plain CommonJS so
// Node runs it as it is from source; the build bundles it (with bcryptjs) beside the app.
const { parentPort, workerData } = require("node:worker_threads");
const bcrypt = require("bcryptjs");

try {
  const tid = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop());
  require("node:os").setPriority(tid, workerData.niceness);
} catch {
  // not Linux, or not allowed: run at normal priority
}

parentPort.on("message", (job) => {
  let reply;
  try {
    if (job.op === "hash") {
      reply = { ok: true, result: bcrypt.hashSync(job.password, job.cost) };
    } else {
      // A malformed stored hash can never match: false, not an error.
      let same = false;
      try {
        same = bcrypt.compareSync(job.password, job.hash);
      } catch {
        same = false;
      }
      reply = { ok: true, result: same };
    }
  } catch (error) {
    reply = { ok: false, error: String((error && error.message) || error) };
  }
  parentPort.postMessage(reply);
});
