/**
 * `npm run import-original -- --from <postgresql-url> | --from-files <dir> [--encoding <label>]
 * [--dry-run] [--batch-size <n>] [--report <file>]`: copies the original service's users and
 * messages into the database the app is configured for (the settings `npm run migrate` reads),
 * migrating it first. Progress goes to stderr, the summary to stdout, every changed or skipped
 * row to the report file.
 */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import { parseDatabaseConfig } from "../../shared/config/config";
import { faultTolerantPool, poolConfig } from "../../shared/data/db";
import { expectedSchemaVersion, migrate, schemaVersion } from "../../shared/data/migrate";
import { openFilesSource } from "./files-source";
import type { OriginalSource } from "./original";
import { openPostgresSource } from "./postgres-source";
import { summarize } from "./report";
import { importOriginal, type Progress } from "./run";

// One batch (thousands of rows, each body up to 100,000 characters) outlasts the app's request-sized timeout.
const IMPORT_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000;
const PROGRESS_EVERY_MS = 1_000;

export class UsageError extends Error {}

export const USAGE = `usage: npm run import-original -- (--from <postgresql-url> | --from-files <dir> [--encoding <label>])
       [--dry-run] [--batch-size <n>] [--report <file>]
  --from <url>         the original's PostgreSQL database (tables "Users" and "Messages")
  --from-files <dir>   an export of its SQL Server tables: users.jsonl and messages.jsonl (README)
  --encoding <label>   the export's encoding: auto (default: BOM, UTF-16LE or UTF-8), windows-1252, ...
  --dry-run            report what would happen; change nothing
  --batch-size <n>     rows per transaction (default 2000)
  --report <file>      where the JSON report goes (default import-original-report.json)
The target is the database the app is configured for: DATABASE_URL, or POSTGRES_HOST/DATABASE/USER (Entra).`;

export interface CliOptions {
  from?: string;
  fromFiles?: string;
  encoding: string;
  dryRun: boolean;
  batchSize: number;
  report: string;
}

export function parseCli(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: "string" },
        "from-files": { type: "string" },
        encoding: { type: "string", default: "auto" },
        "dry-run": { type: "boolean", default: false },
        "batch-size": { type: "string", default: "2000" },
        report: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  if (!values.from === !values["from-files"]) throw new UsageError("give exactly one of --from <postgresql-url> and --from-files <dir>");
  if (values.from && !/^postgres(ql)?:\/\//.test(values.from)) throw new UsageError("--from takes a postgresql:// URL");
  if (values.from && values.encoding !== "auto")
    throw new UsageError("--encoding applies to --from-files only (PostgreSQL sends text decoded)");
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000)
    throw new UsageError("--batch-size takes a whole number from 1 to 50000");
  const dryRun = values["dry-run"] ?? false;
  return {
    from: values.from,
    fromFiles: values["from-files"],
    encoding: values.encoding ?? "auto",
    dryRun,
    batchSize,
    report: values.report ?? (dryRun ? "import-original-report.dry-run.json" : "import-original-report.json"),
  };
}

function progressPrinter(write: (line: string) => void): (p: Progress) => void {
  let last = 0;
  let lastPhase = "";
  return (p) => {
    const now = Date.now();
    // The first batch of each phase, the last, and one a second between.
    if (p.phase === lastPhase && p.done < p.total && now - last < PROGRESS_EVERY_MS) return;
    [last, lastPhase] = [now, p.phase];
    const pct = p.total ? Math.floor((100 * p.done) / p.total) : 100;
    write(`import-original: ${p.phase} ${p.done}/${p.total} (${pct}%), ${Math.round(p.rowsPerSecond)} rows/s\n`);
  };
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) return console.log(USAGE);
  const options = parseCli(process.argv.slice(2));
  const config = parseDatabaseConfig(process.env);
  const pool = faultTolerantPool({
    ...poolConfig(config),
    max: 2,
    statement_timeout: IMPORT_STATEMENT_TIMEOUT_MS,
    query_timeout: IMPORT_STATEMENT_TIMEOUT_MS + 1_000,
  });
  let source: OriginalSource | undefined;
  try {
    if (options.dryRun) {
      const [current, expected] = [await schemaVersion(pool), expectedSchemaVersion()];
      if (current < expected)
        throw new UsageError(
          `the target database is at schema version ${current}, not ${expected}: run npm run migrate (or the import without --dry-run) first`,
        );
    } else {
      const { applied } = await migrate(pool);
      if (applied.length) process.stderr.write(`import-original: applied migrations ${applied.join(", ")}\n`);
    }
    source = options.from ? await openPostgresSource(options.from) : openFilesSource(options.fromFiles as string, options.encoding);
    const report = await importOriginal(pool, source, {
      dryRun: options.dryRun,
      batchSize: options.batchSize,
      onProgress: progressPrinter((line) => process.stderr.write(line)),
    });
    await writeFile(options.report, `${JSON.stringify(report, null, 2)}\n`);
    console.log(summarize(report, options.report));
  } finally {
    await source?.close();
    await pool.end();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`import-original: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
