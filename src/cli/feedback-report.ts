/**
 * `npm run feedback:report -- [--db FILE] [--service ID] [--format table|json]`
 *
 * Prints, per trial, how many cards were shown and what clinicians did with them: accepted, and
 * overridden by reason (the latest outcome of each card counts). The database is the service's
 * feedback database: `--db FILE` (SQLite), else DATABASE_URL (PostgreSQL, issue 17), else
 * FEEDBACK_DB_PATH, else data/feedback.sqlite.
 *
 * Exit codes: 0 done, 2 usage or no database, 1 unexpected failure.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadCliConfig, loadDotEnv } from '../config.js';
import type { TrialFeedbackSummary } from '../feedback/feedback-store.js';
import type { FeedbackStore } from '../feedback/feedback-store.js';
import { PostgresFeedbackStore } from '../feedback/postgres-feedback-store.js';
import { SqliteFeedbackStore } from '../feedback/sqlite-feedback-store.js';
import { openPostgres } from '../shared/postgres-database.js';

const USAGE = 'usage: npm run feedback:report -- [--db FILE] [--service ID] [--format table|json]';

function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${Math.round((100 * part) / whole)}%`;
}

/**
 * A fixed-width table for people: one line per trial, then its override reasons.
 * @param rows - the report.
 */
export function formatFeedbackTable(rows: readonly TrialFeedbackSummary[]): string {
  if (rows.length === 0) return 'No cards shown and no feedback recorded yet.\n';
  const header = `${'trial'.padEnd(16)}${'shown'.padStart(7)}${'accepted'.padStart(10)}${'overridden'.padStart(12)}${'accept rate'.padStart(13)}`;
  const lines = [header, '-'.repeat(header.length)];
  for (const row of rows) {
    const answered = row.accepted + row.overridden;
    lines.push(
      `${(row.trialId ?? '(unknown card)').padEnd(16)}${String(row.shown).padStart(7)}${String(row.accepted).padStart(10)}${String(row.overridden).padStart(12)}${percent(row.accepted, answered).padStart(13)}`,
    );
    for (const reason of row.overriddenByReason) {
      lines.push(`    overridden: ${reason.reason} (${reason.count})`);
    }
    // Issue 18: which rules made the cards clinicians answered.
    if (row.rulesVersions !== undefined)
      lines.push(`    rules versions: ${row.rulesVersions.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The command.
 * @param argv - arguments after the script name.
 * @param env - the environment (DATABASE_URL, FEEDBACK_DB_PATH).
 * @returns the exit code.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (line: string) => void = console.error,
): Promise<number> {
  let db: string | undefined;
  let format: 'table' | 'json' = 'table';
  let serviceId: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string | undefined => argv[++i];
    if (arg === '--db' || arg === '--service' || arg === '--format') {
      const v = value();
      if (v === undefined) {
        err(`${arg} needs a value\n${USAGE}`);
        return 2;
      }
      if (arg === '--db') db = v;
      else if (arg === '--service') serviceId = v;
      else if (v === 'table' || v === 'json') format = v;
      else {
        err(`--format is table or json, not ${v}\n${USAGE}`);
        return 2;
      }
    } else if (arg === '--help' || arg === '-h') {
      out(`${USAGE}\n`);
      return 0;
    } else {
      err(`unknown argument ${arg}\n${USAGE}`);
      return 2;
    }
  }
  // The service's configuration, read the same way (DATABASE_URL, FEEDBACK_DB_PATH).
  const config = loadCliConfig('feedback:report', env, (text) => {
    err(text.replace(/\n$/, ''));
  });
  if (config === undefined) return 2;
  const databaseUrl = config.databaseUrl;
  let store: FeedbackStore;
  let close: () => Promise<void>;
  if (db === undefined && databaseUrl !== undefined) {
    let pool;
    try {
      pool = await openPostgres({ url: databaseUrl, poolSize: 1 });
    } catch (error) {
      // The driver's message names the host or the failure, never the password.
      err(`cannot open the feedback database at DATABASE_URL: ${(error as Error).message}`);
      return 2;
    }
    store = new PostgresFeedbackStore(pool);
    close = () => pool.end();
  } else {
    const file = db ?? config.feedbackDbPath;
    if (!existsSync(file)) {
      err(`no feedback database at ${file} (set --db, DATABASE_URL or FEEDBACK_DB_PATH)`);
      return 2;
    }
    const sqlite = new SqliteFeedbackStore(file, { fileMustExist: true });
    store = sqlite;
    close = () => sqlite.close();
  }
  try {
    const rows = await store.report(serviceId === undefined ? {} : { serviceId });
    out(
      format === 'json'
        ? `${JSON.stringify({ trials: rows }, null, 2)}\n`
        : formatFeedbackTable(rows),
    );
  } finally {
    await close();
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  loadDotEnv();
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}
