import type pg from 'pg';
import type { FeedbackEntry } from './feedback-request.js';
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
import { summarizeFeedback, type LatestOutcomeRow, type ShownRow } from './feedback-summary.js';
import { guarded } from '../shared/postgres-database.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Expired ledger rows are purged at most this often per process, on a remember() call. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

export interface PostgresFeedbackStoreOptions {
  /** Days a card uuid is remembered (default 90). */
  readonly cardTtlDays?: number;
  /** The clock (tests inject one). */
  readonly now?: () => Date;
}

/**
 * The feedback store and card ledger on PostgreSQL (issue 17), shared by every replica: a card
 * issued by one replica is known to the others, a decision is stored once whichever replica
 * receives it, and a 200 is only answered once the rows are committed. The pool belongs to the
 * caller (it is shared with the replay cache).
 */
export class PostgresFeedbackStore implements FeedbackStore, CardLedger {
  private readonly ttlMs: number;
  private readonly now: () => Date;
  private lastPurge = 0;

  /**
   * @param pool - a pool on a migrated database (openPostgres).
   * @param options - ledger expiry, clock.
   */
  constructor(
    private readonly pool: pg.Pool,
    options: PostgresFeedbackStoreOptions = {},
  ) {
    this.ttlMs = (options.cardTtlDays ?? DEFAULT_CARD_TTL_DAYS) * DAY_MS;
    this.now = options.now ?? (() => new Date());
  }

  private async transaction<T>(
    what: string,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    return guarded(what, async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  async remember(call: {
    readonly serviceId: string;
    readonly hookInstance: string;
    readonly cards: readonly IssuedCardRef[];
  }): Promise<void> {
    if (call.cards.length === 0) return;
    const now = this.now();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    const day = now.toISOString().slice(0, 10);
    const purge = now.getTime() - this.lastPurge >= PURGE_INTERVAL_MS;
    await this.transaction('remember the issued cards', async (client) => {
      for (const card of call.cards) {
        // The shown count goes up only for a card uuid seen for the first time.
        const { rowCount } = await client.query({
          name: 'issued-card-insert',
          text: `INSERT INTO issued_card (card_uuid, service_id, trial_id, hook_instance, issued_at, expires_at,
                   rules_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (card_uuid) DO NOTHING`,
          values: [
            card.uuid,
            call.serviceId,
            card.trialId,
            call.hookInstance,
            now,
            expiresAt,
            card.rulesVersion ?? null,
          ],
        });
        if (rowCount !== null && rowCount > 0)
          await client.query({
            name: 'card-shown-count',
            text: `INSERT INTO card_shown (service_id, trial_id, day, shown) VALUES ($1, $2, $3, 1)
                   ON CONFLICT (service_id, trial_id, day) DO UPDATE SET shown = card_shown.shown + 1`,
            values: [call.serviceId, card.trialId, day],
          });
      }
      if (purge)
        await client.query({
          name: 'issued-card-purge',
          text: 'DELETE FROM issued_card WHERE expires_at <= $1',
          values: [now],
        });
    });
    if (purge) this.lastPurge = now.getTime();
  }

  async lookup(cardUuid: string): Promise<IssuedCardLookup | undefined> {
    return guarded('look up a card', async () => this.lookupWith(this.pool, cardUuid));
  }

  /** Readiness (issue 18): the database answers a query. */
  async ping(): Promise<void> {
    await guarded('answer a readiness check', async () => {
      await this.pool.query('SELECT 1');
    });
  }

  private async lookupWith(
    db: pg.Pool | pg.PoolClient,
    cardUuid: string,
  ): Promise<IssuedCardLookup | undefined> {
    const { rows } = await db.query<{
      service_id: string;
      trial_id: string;
      hook_instance: string;
      rules_version: string | null;
    }>({
      name: 'issued-card-lookup',
      text: `SELECT service_id, trial_id, hook_instance, rules_version FROM issued_card
             WHERE card_uuid = $1 AND expires_at > $2`,
      values: [cardUuid, this.now()],
    });
    const row = rows[0];
    return row === undefined
      ? undefined
      : {
          serviceId: row.service_id,
          trialId: row.trial_id,
          hookInstance: row.hook_instance,
          ...(row.rules_version !== null ? { rulesVersion: row.rules_version } : {}),
        };
  }

  async record(
    serviceId: string,
    entries: readonly FeedbackEntry[],
  ): Promise<FeedbackRecordResult> {
    const receivedAt = this.now();
    return this.transaction('store feedback', async (client) => {
      let stored = 0;
      let duplicates = 0;
      let unknownCards = 0;
      for (const entry of entries) {
        const issued = await this.lookupWith(client, entry.card);
        if (issued === undefined) unknownCards++;
        // An override reason only means something for an overridden card.
        const reason = entry.outcome === 'overridden' ? entry.overrideReason : undefined;
        // One row per decision across replicas (the unique key); a duplicate keeps the latest
        // timestamp it was sent with. xmax = 0 only on a row this statement inserted.
        const { rows } = await client.query<{ inserted: boolean }>({
          name: 'feedback-upsert',
          text: `INSERT INTO feedback (service_id, card_uuid, trial_id, hook_instance, outcome, decision,
                   reason_system, reason_code, reason_display, has_comment, accepted_suggestions,
                   outcome_timestamp, received_at, rules_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (service_id, card_uuid, outcome, decision) DO UPDATE
                   SET outcome_timestamp = GREATEST(feedback.outcome_timestamp, EXCLUDED.outcome_timestamp)
                 RETURNING (xmax = 0) AS inserted`,
          values: [
            serviceId,
            entry.card,
            issued?.trialId ?? null,
            issued?.hookInstance ?? null,
            entry.outcome,
            decisionKey(entry),
            reason?.reason?.system ?? null,
            reason?.reason?.code ?? null,
            reason?.reason?.display ?? null,
            reason?.userComment !== undefined,
            entry.acceptedSuggestions === undefined
              ? null
              : JSON.stringify(entry.acceptedSuggestions.map((s) => s.id)),
            new Date(entry.outcomeTimestamp),
            receivedAt,
            issued?.rulesVersion ?? null,
          ],
        });
        if (rows[0]?.inserted === true) stored++;
        else duplicates++;
      }
      return { stored, duplicates, unknownCards };
    });
  }

  async report(options: { readonly serviceId?: string } = {}): Promise<TrialFeedbackSummary[]> {
    const service = options.serviceId ?? null;
    return guarded('read the feedback report', async () => {
      const shown = await this.pool.query<{ trial_id: string; shown: string }>({
        name: 'feedback-report-shown',
        text: `SELECT trial_id, SUM(shown) AS shown FROM card_shown
               WHERE ($1::text IS NULL OR service_id = $1) GROUP BY trial_id`,
        values: [service],
      });
      // The latest outcome of each card: a clinician may override a card and accept it later.
      const latest = await this.pool.query<LatestOutcomeRow>({
        name: 'feedback-report-latest',
        text: `SELECT DISTINCT ON (service_id, card_uuid) trial_id, outcome, reason_code, reason_display,
                 rules_version
               FROM feedback WHERE ($1::text IS NULL OR service_id = $1)
               ORDER BY service_id, card_uuid, outcome_timestamp DESC, id DESC`,
        values: [service],
      });
      const shownRows: ShownRow[] = shown.rows.map((r) => ({
        trial_id: r.trial_id,
        shown: Number(r.shown),
      }));
      return summarizeFeedback(shownRows, latest.rows);
    });
  }

  /** The pool is the caller's: nothing to release here. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
