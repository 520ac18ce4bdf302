import { createHash } from 'node:crypto';
import type pg from 'pg';
import { guarded } from '../shared/postgres-database.js';
import type { ReplayCache } from './replay-cache.js';

/** Expired ids are purged at most this often per process. */
const PURGE_INTERVAL_MS = 60 * 1000;

/**
 * The replay cache on PostgreSQL (issue 17): one row per (issuer, jti) until the token expires,
 * inserted if absent in one statement, so a token is accepted once by all replicas together. An
 * expired row is taken over by a new token with the same id (its issuer reused the jti). The key
 * is stored as its SHA-256 (issuer and jti are any strings, NUL included, which text refuses).
 */
export class PostgresReplayCache implements ReplayCache {
  private lastPurge = 0;

  /**
   * @param pool - a pool on a migrated database (openPostgres).
   * @param now - the clock (ms), injectable for tests.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async remember(key: string, expiresAtMs: number): Promise<boolean> {
    const now = this.now();
    return guarded('check the token against replay', async () => {
      const { rowCount } = await this.pool.query({
        name: 'jwt-replay-remember',
        text: `INSERT INTO jwt_replay (key, expires_at) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
               WHERE jwt_replay.expires_at <= $3`,
        values: [
          createHash('sha256').update(key).digest('hex'),
          new Date(expiresAtMs),
          new Date(now),
        ],
      });
      if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
        this.lastPurge = now;
        await this.pool.query({
          name: 'jwt-replay-purge',
          text: 'DELETE FROM jwt_replay WHERE expires_at <= $1',
          values: [new Date(now)],
        });
      }
      return rowCount === 1;
    });
  }
}
