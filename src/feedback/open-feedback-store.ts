import { PostgresReplayCache } from '../security/postgres-replay-cache.js';
import type { ReplayCache } from '../security/replay-cache.js';
import { openPostgres } from '../shared/postgres-database.js';
import { StoreUnavailableError } from '../shared/errors.js';
import type { CardLedger, FeedbackStore } from './feedback-store.js';
import { PostgresFeedbackStore } from './postgres-feedback-store.js';
import { SqliteFeedbackStore } from './sqlite-feedback-store.js';

/** The state a replica keeps: feedback and the card ledger, and (shared) the replay cache. */
export interface OpenedStores {
  readonly feedbackStore: FeedbackStore;
  readonly cardLedger: CardLedger;
  /** Present with DATABASE_URL: jtis shared by every replica; absent: in memory. */
  readonly replayCache?: ReplayCache;
  /** Where the state is, for the start-up log (no credentials). */
  readonly description: string;
  close(): Promise<void>;
}

/** Where the stores live (the fields of the same names in config.ts). */
export interface FeedbackStoreSettings {
  /** PostgreSQL, for the feedback, the card ledger and the replay cache; unset: SQLite. */
  readonly databaseUrl?: string;
  readonly databasePoolSize: number;
  readonly feedbackDbPath: string;
  readonly cardLedgerTtlDays: number;
}

/**
 * Opens the configured stores: PostgreSQL (migrated) when DATABASE_URL is set, else the SQLite
 * file FEEDBACK_DB_PATH.
 * @param config - database URL and pool size, or the SQLite path; the ledger expiry.
 * @param onPoolError - reports a dropped idle connection (no patient data).
 */
export async function openFeedbackStores(
  config: FeedbackStoreSettings,
  onError: (error: Error) => void = () => undefined,
): Promise<OpenedStores> {
  if (config.databaseUrl !== undefined) {
    const pool = await openPostgres({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      onError,
    });
    const store = new PostgresFeedbackStore(pool, { cardTtlDays: config.cardLedgerTtlDays });
    const replay = new PostgresReplayCache(pool);
    // The callers answer 503 without the cause: say why in the log (the driver's message: host,
    // port, error code; no patient data, no password).
    const reported =
      <A extends unknown[], T>(call: (...args: A) => Promise<T>) =>
      async (...args: A): Promise<T> => {
        try {
          return await call(...args);
        } catch (error) {
          if (error instanceof StoreUnavailableError) onError(error);
          throw error;
        }
      };
    const url = new URL(config.databaseUrl);
    return {
      feedbackStore: {
        record: reported(store.record.bind(store)),
        report: store.report.bind(store),
        close: store.close.bind(store),
        ping: store.ping.bind(store),
      },
      cardLedger: store,
      replayCache: { remember: reported(replay.remember.bind(replay)) },
      description: `postgres ${url.hostname}:${url.port || '5432'}${url.pathname}`,
      close: () => pool.end(),
    };
  }
  const store = new SqliteFeedbackStore(config.feedbackDbPath, {
    cardTtlDays: config.cardLedgerTtlDays,
  });
  return {
    feedbackStore: store,
    cardLedger: store,
    description: 'sqlite',
    close: () => store.close(),
  };
}
