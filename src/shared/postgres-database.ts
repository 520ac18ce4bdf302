import pg from 'pg';
import { StoreUnavailableError } from './errors.js';

/**
 * The PostgreSQL database replicas share (issue 17): one pool per process, the schema created by
 * versioned migrations at start-up. Every query is parameterised, and named where it runs often
 * (a prepared statement per connection).
 */

/**
 * Schema migrations, applied in order, each once; `schema_migration` lists those applied. Never
 * edit one that has shipped: add the next.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE issued_card (
    card_uuid     text PRIMARY KEY,
    service_id    text NOT NULL,
    trial_id      text NOT NULL,
    hook_instance text NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
  );
  CREATE INDEX issued_card_expires_at ON issued_card (expires_at);

  -- Shown counts per trial and day: kept after the ledger rows they count have expired.
  CREATE TABLE card_shown (
    service_id text NOT NULL,
    trial_id   text NOT NULL,
    day        date NOT NULL,
    shown      bigint NOT NULL,
    PRIMARY KEY (service_id, trial_id, day)
  );

  -- One row per decision on a card (card, outcome, suggestions or reason). No patient identifier:
  -- the free-text userComment is not stored (it may name the patient), only whether there was one.
  CREATE TABLE feedback (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id           text NOT NULL,
    card_uuid            text NOT NULL,
    trial_id             text,
    hook_instance        text,
    outcome              text NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    decision             text NOT NULL,
    reason_system        text,
    reason_code          text,
    reason_display       text,
    has_comment          boolean NOT NULL DEFAULT false,
    accepted_suggestions text,
    outcome_timestamp    timestamptz NOT NULL,
    received_at          timestamptz NOT NULL,
    UNIQUE (service_id, card_uuid, outcome, decision)
  );
  CREATE INDEX feedback_card ON feedback (service_id, card_uuid);

  -- JWT ids seen (SHA-256 of issuer and jti), until the token expires: a token is accepted once,
  -- by any replica.
  CREATE TABLE jwt_replay (
    key        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX jwt_replay_expires_at ON jwt_replay (expires_at);
  `,
  // Issue 18: the rules version (a digest of ELM, trial definitions and value sets) each card was
  // made with, kept with its feedback. Cards issued before have none.
  `
  ALTER TABLE issued_card ADD COLUMN rules_version text;
  ALTER TABLE feedback ADD COLUMN rules_version text;
  `,
];

/** Any lock key of our own, held while migrating: replicas starting together migrate in turn. */
const MIGRATION_LOCK = 0x63_64_73_17;

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database` (DATABASE_URL). */
  readonly url: string;
  /** Connections per process, at most (DATABASE_POOL_SIZE). */
  readonly poolSize: number;
  /** Waiting for a connection (ms) before the call fails with 503. */
  readonly connectTimeoutMs?: number;
  /** Longest a statement may run (ms). */
  readonly statementTimeoutMs?: number;
  /** Reports pool errors (an idle connection dropped by the server); no patient data. */
  readonly onError?: (error: Error) => void;
}

/** The errors that mean "the database cannot be reached or is going away": 503, not 500. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // Node socket errors, and PostgreSQL classes 08 (connection), 53 (resources), 57P (shutdown).
    if (
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN)$/.test(
        code,
      )
    )
      return true;
    if (/^(08|53|57P)/.test(code)) return true;
  }
  const message = (error as { message?: unknown } | null)?.message;
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * Runs a database call; an unreachable database becomes {@link StoreUnavailableError} (503), the
 * original error its cause (logged, never sent).
 * @param what - what was being done, for the message.
 * @param work - the call.
 */
export async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUnavailable(error))
      throw new StoreUnavailableError(`the database is unavailable: could not ${what}`, {
        cause: error,
      });
    throw error;
  }
}

/**
 * Opens the pool and applies the migrations not yet applied, under an advisory lock (idempotent;
 * two replicas starting at once migrate one after the other).
 * @param options - URL, pool size, timeouts.
 * @returns the pool, ready.
 */
export async function openPostgres(options: PostgresOptions): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'cds-trial-matcher',
  });
  pool.on('error', (error) => options.onError?.(error));
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return pool;
}

/**
 * Applies the migrations not yet applied.
 * @param pool - the pool.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migration (
         version    integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM schema_migration',
    );
    for (let i = rows[0]?.v ?? 0; i < PG_MIGRATIONS.length; i++) {
      await client.query(PG_MIGRATIONS[i] ?? '');
      await client.query('INSERT INTO schema_migration (version) VALUES ($1)', [i + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
