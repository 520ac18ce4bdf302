/**
 * The PostgreSQL stores (issue 17) against a real server started here (test/support/postgres-cluster.ts):
 * the shared contract suite, the replay cache, migrations when replicas start at once, and what a
 * caller sees when the database goes away.
 */
import pg from 'pg';
import { StoreUnavailableError } from '../../src/shared/errors.js';
import { PostgresFeedbackStore } from '../../src/feedback/postgres-feedback-store.js';
import { PostgresReplayCache } from '../../src/security/postgres-replay-cache.js';
import { openPostgres, PG_MIGRATIONS } from '../../src/shared/postgres-database.js';
import { startPostgres, type PostgresCluster } from '../support/postgres-cluster.js';
import { accepted, CARD_A, feedbackStoreContract } from './feedback-store-contract.js';

let cluster: PostgresCluster;
let contractUrl: string;
const pools: pg.Pool[] = [];
const open = async (url: string): Promise<pg.Pool> => {
  const pool = await openPostgres({ url, poolSize: 4 });
  pools.push(pool);
  return pool;
};

beforeAll(async () => {
  cluster = await startPostgres();
  contractUrl = await cluster.createDatabase();
}, 60_000);
afterAll(async () => {
  for (const pool of pools) await pool.end().catch(() => undefined);
  await cluster.stop();
});

feedbackStoreContract('PostgresFeedbackStore', () => ({
  fresh: async () => {
    const pool = await open(contractUrl);
    await pool.query('TRUNCATE issued_card, card_shown, feedback, jwt_replay');
  },
  // Each opening is a replica: its own pool on the one database.
  open: async (options) => new PostgresFeedbackStore(await open(contractUrl), options),
  feedbackRows: async () => {
    const pool = await open(contractUrl);
    return (await pool.query<Record<string, unknown>>('SELECT * FROM feedback')).rows;
  },
}));

describe('PostgreSQL migrations', () => {
  it('migrate once when replicas start at once, and again is a no-op', async () => {
    const url = await cluster.createDatabase();
    await Promise.all([open(url), open(url), open(url)]);
    const pool = await open(url);
    const { rows } = await pool.query<{ version: number }>(
      'SELECT version FROM schema_migration ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
  });
});

describe('PostgresReplayCache', () => {
  it('accepts a jti once across replicas, even at the same moment, until it expires', async () => {
    const url = await cluster.createDatabase();
    let now = Date.parse('2026-11-22T10:00:00Z');
    const one = new PostgresReplayCache(await open(url), () => now);
    const two = new PostgresReplayCache(await open(url), () => now);
    const expiry = now + 60_000;
    const answers = await Promise.all([
      one.remember('iss\u0000a', expiry),
      two.remember('iss\u0000a', expiry),
      one.remember('iss\u0000a', expiry),
      two.remember('iss\u0000a', expiry),
    ]);
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await two.remember('iss\u0000b', expiry)).toBe(true);
    expect(await one.remember('iss\u0000b', expiry)).toBe(false);
    now = expiry + 1;
    expect(await one.remember('iss\u0000a', now + 60_000)).toBe(true);
    expect(await two.remember('iss\u0000a', now + 60_000)).toBe(false);
  });

  it('purges expired ids', async () => {
    const url = await cluster.createDatabase();
    let now = Date.parse('2026-11-22T10:00:00Z');
    const pool = await open(url);
    const cache = new PostgresReplayCache(pool, () => now);
    await cache.remember('old', now + 1000);
    now += 2 * 60 * 60 * 1000;
    await cache.remember('new', now + 1000);
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM jwt_replay');
    expect(rows[0]?.n).toBe('1');
    expect(await cache.remember('new', now + 1000)).toBe(false);
  });
});

describe('when the database goes away', () => {
  it('fails with StoreUnavailableError (503), and works again once it is back', async () => {
    const url = await cluster.createDatabase();
    const pool = await open(url);
    const store = new PostgresFeedbackStore(pool);
    const replay = new PostgresReplayCache(pool);
    await store.remember({
      serviceId: 's',
      hookInstance: 'h',
      cards: [{ uuid: CARD_A, trialId: 'T' }],
    });
    await cluster.shutdown();
    try {
      await expect(store.record('s', [accepted(CARD_A)])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.lookup(CARD_A)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(replay.remember('k', Date.now() + 60_000)).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      await cluster.start();
    }
    expect(await store.record('s', [accepted(CARD_A)])).toEqual({
      stored: 1,
      duplicates: 0,
      unknownCards: 0,
    });
  }, 60_000);
});
