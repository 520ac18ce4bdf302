import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FeedbackEntry } from './feedback-request.js';
import { summarizeFeedback, type LatestOutcomeRow } from './feedback-summary.js';
import {
  decisionKey,
  DEFAULT_CARD_TTL_DAYS,
  type CardLedger,
  type FeedbackRecordResult,
  type FeedbackStore,
  type IssuedCardLookup,
  type IssuedCardRef,
  type TrialFeedbackSummary,
} from './feedback-store.js';

export { DEFAULT_CARD_TTL_DAYS, DEFAULT_FEEDBACK_DB_PATH } from './feedback-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Expired ledger rows are purged at most this often, on a remember() call. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** A write the database keeps refusing as busy (beyond busy_timeout) is tried this many times. */
const BUSY_ATTEMPTS = 5;

/** Schema migrations, applied in order; PRAGMA user_version holds how many have run. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE issued_card (
    card_uuid     TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL,
    trial_id      TEXT NOT NULL,
    hook_instance TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX issued_card_expires_at ON issued_card (expires_at);

  -- Shown counts per trial and day: kept after the ledger rows they count have expired.
  CREATE TABLE card_shown (
    service_id TEXT NOT NULL,
    trial_id   TEXT NOT NULL,
    day        TEXT NOT NULL,
    shown      INTEGER NOT NULL,
    PRIMARY KEY (service_id, trial_id, day)
  ) WITHOUT ROWID;

  -- One row per feedback entry. No patient identifier: the free-text userComment is not stored
  -- (it may name the patient), only whether there was one.
  CREATE TABLE feedback (
    id                   INTEGER PRIMARY KEY,
    service_id           TEXT NOT NULL,
    card_uuid            TEXT NOT NULL,
    trial_id             TEXT,
    hook_instance        TEXT,
    outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    reason_system        TEXT,
    reason_code          TEXT,
    reason_display       TEXT,
    has_comment          INTEGER NOT NULL DEFAULT 0,
    accepted_suggestions TEXT,
    outcome_timestamp    TEXT NOT NULL,
    received_at          TEXT NOT NULL,
    UNIQUE (service_id, card_uuid, outcome, outcome_timestamp)
  );
  CREATE INDEX feedback_card ON feedback (service_id, card_uuid);
  `,
  // Issue 14: one row per decision (card, outcome, suggestions or reason), whatever its timestamp;
  // existing duplicates keep their latest timestamp.
  `
  CREATE TABLE feedback_v2 (
    id                   INTEGER PRIMARY KEY,
    service_id           TEXT NOT NULL,
    card_uuid            TEXT NOT NULL,
    trial_id             TEXT,
    hook_instance        TEXT,
    outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    decision             TEXT NOT NULL,
    reason_system        TEXT,
    reason_code          TEXT,
    reason_display       TEXT,
    has_comment          INTEGER NOT NULL DEFAULT 0,
    accepted_suggestions TEXT,
    outcome_timestamp    TEXT NOT NULL,
    received_at          TEXT NOT NULL,
    UNIQUE (service_id, card_uuid, outcome, decision)
  );
  INSERT OR IGNORE INTO feedback_v2 (id, service_id, card_uuid, trial_id, hook_instance, outcome,
    decision, reason_system, reason_code, reason_display, has_comment, accepted_suggestions,
    outcome_timestamp, received_at)
  SELECT id, service_id, card_uuid, trial_id, hook_instance, outcome,
    CASE WHEN outcome = 'accepted' THEN coalesce(accepted_suggestions, '[]')
         WHEN reason_code IS NULL THEN ''
         ELSE json_array(reason_system, reason_code) END,
    reason_system, reason_code, reason_display, has_comment, accepted_suggestions,
    outcome_timestamp, received_at
  FROM feedback ORDER BY outcome_timestamp DESC, id DESC;
  DROP TABLE feedback;
  ALTER TABLE feedback_v2 RENAME TO feedback;
  CREATE INDEX feedback_card ON feedback (service_id, card_uuid);
  `,
  // Issue 18: the rules version (a digest of ELM, trial definitions and value sets) each card was
  // made with, kept with its feedback. Cards issued before have none.
  `
  ALTER TABLE issued_card ADD COLUMN rules_version TEXT;
  ALTER TABLE feedback ADD COLUMN rules_version TEXT;
  `,
];

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

export interface SqliteFeedbackStoreOptions {
  /** Days a card uuid is remembered (default 90). */
  readonly cardTtlDays?: number;
  /** The clock (tests inject one). */
  readonly now?: () => Date;
  /** Open an existing database only (the report command): fail when the file is missing. */
  readonly fileMustExist?: boolean;
}

/**
 * The feedback store and card ledger in one SQLite database (better-sqlite3: synchronous, one
 * connection per process, WAL so the report command can read while the service writes).
 */
export class SqliteFeedbackStore implements FeedbackStore, CardLedger {
  private readonly db: Database.Database;
  private readonly ttlMs: number;
  private readonly now: () => Date;
  private lastPurge = 0;

  /**
   * Opens (creating it and its directory when needed) and migrates the database.
   * @param path - the database file, or `:memory:`.
   * @param options - ledger expiry, clock.
   */
  constructor(path: string, options: SqliteFeedbackStoreOptions = {}) {
    if (path !== ':memory:' && options.fileMustExist !== true) {
      mkdirSync(dirname(path), { recursive: true });
    }
    this.db = new Database(path, { fileMustExist: options.fileMustExist === true });
    this.db.pragma('journal_mode = WAL');
    // Feedback is a record of clinical decisions: wait for the disk on every commit.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.ttlMs = (options.cardTtlDays ?? DEFAULT_CARD_TTL_DAYS) * DAY_MS;
    this.now = options.now ?? (() => new Date());
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version >= MIGRATIONS.length) return;
    // Immediate: two processes starting at once migrate one after the other (the second sees
    // the version the first wrote).
    this.db
      .transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (let i = current; i < MIGRATIONS.length; i++) {
          this.db.exec(MIGRATIONS[i] ?? '');
          this.db.pragma(`user_version = ${i + 1}`);
        }
      })
      .immediate();
  }

  /**
   * Runs a write transaction. IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies;
   * a deferred transaction that reads first and writes second fails at once with
   * SQLITE_BUSY_SNAPSHOT when another process wrote in between (issue 15, item 4). A write still
   * refused as busy after busy_timeout is retried a few times, with a pause between attempts.
   */
  private async write<T>(work: () => T): Promise<T> {
    const run = this.db.transaction(work);
    for (let attempt = 1; ; attempt++) {
      try {
        return run.immediate();
      } catch (error) {
        if (!isBusy(error) || attempt >= BUSY_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 20));
      }
    }
  }

  async remember(call: {
    readonly serviceId: string;
    readonly hookInstance: string;
    readonly cards: readonly IssuedCardRef[];
  }): Promise<void> {
    if (call.cards.length === 0) return;
    const now = this.now();
    const issuedAt = now.toISOString();
    const expiresAt = new Date(now.getTime() + this.ttlMs).toISOString();
    const day = issuedAt.slice(0, 10);
    const insert = this.db.prepare(
      `INSERT INTO issued_card (card_uuid, service_id, trial_id, hook_instance, issued_at, expires_at,
         rules_version)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (card_uuid) DO NOTHING`,
    );
    const count = this.db.prepare(
      `INSERT INTO card_shown (service_id, trial_id, day, shown) VALUES (?, ?, ?, 1)
       ON CONFLICT (service_id, trial_id, day) DO UPDATE SET shown = shown + 1`,
    );
    await this.write(() => {
      for (const card of call.cards) {
        const { changes } = insert.run(
          card.uuid,
          call.serviceId,
          card.trialId,
          call.hookInstance,
          issuedAt,
          expiresAt,
          card.rulesVersion ?? null,
        );
        if (changes > 0) count.run(call.serviceId, card.trialId, day);
      }
      if (now.getTime() - this.lastPurge >= PURGE_INTERVAL_MS) {
        this.db.prepare('DELETE FROM issued_card WHERE expires_at <= ?').run(issuedAt);
        this.lastPurge = now.getTime();
      }
    });
  }

  lookup(cardUuid: string): Promise<IssuedCardLookup | undefined> {
    return Promise.resolve(this.lookupNow(cardUuid));
  }

  private lookupNow(cardUuid: string): IssuedCardLookup | undefined {
    const row = this.db
      .prepare(
        `SELECT service_id, trial_id, hook_instance, rules_version FROM issued_card
         WHERE card_uuid = ? AND expires_at > ?`,
      )
      .get(cardUuid, this.now().toISOString()) as
      | {
          service_id: string;
          trial_id: string;
          hook_instance: string;
          rules_version: string | null;
        }
      | undefined;
    return row === undefined
      ? undefined
      : {
          serviceId: row.service_id,
          trialId: row.trial_id,
          hookInstance: row.hook_instance,
          ...(row.rules_version !== null ? { rulesVersion: row.rules_version } : {}),
        };
  }

  /** Readiness (issue 18): the database answers a query. */
  ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
    return Promise.resolve();
  }

  async record(
    serviceId: string,
    entries: readonly FeedbackEntry[],
  ): Promise<FeedbackRecordResult> {
    const receivedAt = this.now().toISOString();
    const insert = this.db.prepare(
      `INSERT INTO feedback (service_id, card_uuid, trial_id, hook_instance, outcome, decision,
         reason_system, reason_code, reason_display, has_comment, accepted_suggestions,
         outcome_timestamp, received_at, rules_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (service_id, card_uuid, outcome, decision) DO NOTHING`,
    );
    // A duplicate keeps the latest timestamp it was sent with (the report counts the latest
    // outcome of each card: accepted, overridden, then accepted again stays accepted).
    const touch = this.db.prepare(
      `UPDATE feedback SET outcome_timestamp = max(outcome_timestamp, ?)
       WHERE service_id = ? AND card_uuid = ? AND outcome = ? AND decision = ?`,
    );
    return this.write(() => {
      let stored = 0;
      let duplicates = 0;
      let unknownCards = 0;
      for (const entry of entries) {
        const issued = this.lookupNow(entry.card);
        if (issued === undefined) unknownCards++;
        // An override reason only means something for an overridden card.
        const reason = entry.outcome === 'overridden' ? entry.overrideReason : undefined;
        const decision = decisionKey(entry);
        const timestamp = new Date(entry.outcomeTimestamp).toISOString();
        const { changes } = insert.run(
          serviceId,
          entry.card,
          issued?.trialId ?? null,
          issued?.hookInstance ?? null,
          entry.outcome,
          decision,
          reason?.reason?.system ?? null,
          reason?.reason?.code ?? null,
          reason?.reason?.display ?? null,
          reason?.userComment === undefined ? 0 : 1,
          entry.acceptedSuggestions === undefined
            ? null
            : JSON.stringify(entry.acceptedSuggestions.map((s) => s.id)),
          timestamp,
          receivedAt,
          issued?.rulesVersion ?? null,
        );
        if (changes > 0) {
          stored++;
        } else {
          duplicates++;
          touch.run(timestamp, serviceId, entry.card, entry.outcome, decision);
        }
      }
      return { stored, duplicates, unknownCards };
    });
  }

  report(options: { readonly serviceId?: string } = {}): Promise<TrialFeedbackSummary[]> {
    return Promise.resolve(this.reportNow(options));
  }

  private reportNow(options: { readonly serviceId?: string }): TrialFeedbackSummary[] {
    const service = options.serviceId;
    const shownRows = this.db
      .prepare(
        `SELECT trial_id, SUM(shown) AS shown FROM card_shown
         WHERE (? IS NULL OR service_id = ?) GROUP BY trial_id`,
      )
      .all(service ?? null, service ?? null) as { trial_id: string; shown: number }[];
    // The latest outcome of each card: a clinician may override a card and accept it later.
    const latest = this.db
      .prepare(
        `SELECT trial_id, outcome, reason_code, reason_display, rules_version FROM feedback f
         WHERE (? IS NULL OR service_id = ?)
           AND id = (SELECT g.id FROM feedback g
                     WHERE g.service_id = f.service_id AND g.card_uuid = f.card_uuid
                     ORDER BY g.outcome_timestamp DESC, g.id DESC LIMIT 1)`,
      )
      .all(service ?? null, service ?? null) as LatestOutcomeRow[];

    return summarizeFeedback(shownRows, latest);
  }

  /** Closes the database (graceful shutdown, tests). */
  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
