/**
 * Where the `jti` values seen are kept, each until its token expires (CDS Hooks: "keep jtis for
 * the longest JWT lifetime"). In process memory by default; on PostgreSQL when replicas share
 * state (issue 17: a token used on one replica is refused by every other).
 */
export interface ReplayCache {
  /**
   * Records a token id unless it was seen and has not expired: atomic (two calls with one key
   * at once, on one replica or two, accept it once).
   * @param key - issuer and jti.
   * @param expiresAtMs - when the token (plus clock skew) expires: until then it is remembered.
   * @returns false when the id is a replay.
   * @throws StoreUnavailableError when the shared store cannot be reached (fail closed: 503).
   */
  remember(key: string, expiresAtMs: number): Promise<boolean>;
}

/**
 * The replay cache of one process. Bounded: when full, expired entries go first, then the oldest
 * ones.
 */
export class MemoryReplayCache implements ReplayCache {
  /** key -> expiry (ms); a Map keeps insertion order, so the first entries are the oldest. */
  private readonly entries = new Map<string, number>();
  private evictedLive = 0;

  /**
   * @param maxEntries - the most jtis kept.
   * @param now - the clock (ms), injectable for tests.
   */
  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records a token id unless it was seen and has not expired.
   * @param key - issuer and jti.
   * @param expiresAtMs - when the token (plus clock skew) expires: until then it is remembered.
   * @returns false when the id is a replay.
   */
  remember(key: string, expiresAtMs: number): Promise<boolean> {
    return Promise.resolve(this.rememberNow(key, expiresAtMs));
  }

  /** {@link remember}, synchronously. */
  rememberNow(key: string, expiresAtMs: number): boolean {
    const now = this.now();
    const seen = this.entries.get(key);
    if (seen !== undefined && seen > now) return false;
    if (seen !== undefined) this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.evict(now);
    this.entries.set(key, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** How many unexpired ids had to be dropped because the cache was full. */
  get evictedBeforeExpiry(): number {
    return this.evictedLive;
  }

  private evict(now: number): void {
    for (const [key, expiry] of this.entries) if (expiry <= now) this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evictedLive++;
    }
  }
}
