import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
  type JSONWebKeySet,
} from 'jose';
import type { Dispatcher } from 'undici';
import { MemoryReplayCache, type ReplayCache } from './replay-cache.js';
import { boundedFetch, createOutboundDispatcher } from './outbound-http.js';
import type { TrustedIssuer } from './trusted-issuers.js';

/**
 * Authentication of CDS clients by the JWT they send in `Authorization: Bearer`.
 * {@link https://cds-hooks.hl7.org/2.0/#trusting-cds-clients}
 *
 * Checked, in order: the header's form; `alg` (ES256, ES384, RS256, RS384 only: never `none` or
 * HMAC, as the spec says); `kid` present; `typ` JWT when given; `iss` trusted; `jku`, when present,
 * allowed for that issuer; the signature, with the key named by `kid` from the issuer's JWK Set
 * (fetched and cached with rotation, or configured); `aud` equal to the URL called; `exp`, `nbf`,
 * `iat` with a small clock skew; a lifetime of at most an hour; `jti` not seen before.
 */

/** Asymmetric algorithms the spec recommends (ES384, RS384) and real clients use (ES256, RS256). */
export const ALLOWED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'RS384'] as const;

/** The longest token lifetime accepted; it also bounds how long a jti is remembered. */
export const MAX_TOKEN_LIFETIME_SEC = 3600;

/** Why a token was refused: logged (never sent to the client). */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'unknown-issuer'
  | 'jku-not-allowed'
  | 'unknown-key'
  | 'signature'
  | 'audience'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  | 'lifetime'
  | 'claims'
  | 'replay'
  | 'jwks-unavailable'
  /** The shared replay cache (PostgreSQL) cannot be reached: the call fails closed, with 503. */
  | 'replay-cache-unavailable';

export type AuthResult =
  | {
      readonly ok: true;
      readonly issuer: TrustedIssuer;
      readonly jti: string;
      readonly tenant?: string;
    }
  | {
      readonly ok: false;
      readonly reason: AuthFailureReason;
      readonly iss?: string;
      readonly jti?: string;
    };

export interface ClientAuthenticatorOptions {
  readonly issuers: readonly TrustedIssuer[];
  /** Clock skew tolerated on exp, nbf and iat, in seconds. */
  readonly clockToleranceSec: number;
  /** jtis remembered at most (the oldest go first when full) by the in-memory replay cache. */
  readonly replayCacheSize: number;
  /** Where jtis are remembered (issue 17: PostgreSQL, shared by replicas); default in memory. */
  readonly replayCache?: ReplayCache;
  /** Fetching JWK Sets. */
  readonly jwks: {
    readonly timeoutMs: number;
    readonly maxResponseBytes: number;
    /** Least time between two fetches of one JWK Set (an unknown kid refetches after it). */
    readonly cooldownMs?: number;
    /** A fetched JWK Set is used this long before it is fetched again. */
    readonly cacheMaxAgeMs?: number;
    /**
     * After a failed fetch of a JWK Set, tokens naming it are refused without fetching for this
     * long (default 30 s): forged tokens must not make the service hammer a failing endpoint.
     */
    readonly failureCooldownMs?: number;
  };
  /** The clock (ms); tests move it. */
  readonly now?: () => number;
}

export interface ClientAuthenticator {
  /**
   * @param authorization - the Authorization header as received.
   * @param audience - the URL that was called (what `aud` must hold).
   */
  authenticate(authorization: string | undefined, audience: string): Promise<AuthResult>;
  /** Releases the JWK Set connections. */
  close(): Promise<void>;
}

const MAX_TOKEN_LENGTH = 16_384;
const BEARER = /^Bearer +([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/i;

/** An untrusted claim shortened for the log. */
function forLog(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}

/** A JWK Set whose last fetch failed, within its failure cooldown. */
class JwksCoolingDownError extends Error {
  override readonly name = 'JwksCoolingDownError';
}

function reasonFor(error: unknown): AuthFailureReason {
  const code = (error as { code?: unknown } | null)?.code;
  const claim = (error as { claim?: unknown } | null)?.claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'aud') return 'audience';
      if (claim === 'nbf') return 'not-yet-valid';
      if (claim === 'iat') return 'issued-in-future';
      if (claim === 'iss') return 'unknown-issuer';
      return 'claims';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown-key';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'malformed';
    default:
      return 'jwks-unavailable';
  }
}

/**
 * Builds the authenticator once at start-up.
 * @param options - trusted issuers, clock skew, replay cache size, JWK Set fetching.
 */
export function createClientAuthenticator(
  options: ClientAuthenticatorOptions,
): ClientAuthenticator {
  const now = options.now ?? Date.now;
  const byIss = new Map(options.issuers.map((i) => [i.iss, i]));
  const replay = options.replayCache ?? new MemoryReplayCache(options.replayCacheSize, now);
  const tolerance = options.clockToleranceSec;
  const failureCooldownMs = options.jwks.failureCooldownMs ?? 30_000;
  let dispatcher: Dispatcher | undefined;
  const remote = new Map<string, JWTVerifyGetKey>();
  const local = new Map<string, JWTVerifyGetKey>();

  function remoteKeys(url: string): JWTVerifyGetKey {
    let keys = remote.get(url);
    if (keys === undefined) {
      dispatcher ??= createOutboundDispatcher({
        maxResponseBytes: options.jwks.maxResponseBytes,
        timeoutMs: options.jwks.timeoutMs,
      });
      const fetched = createRemoteJWKSet(new URL(url), {
        timeoutDuration: options.jwks.timeoutMs,
        cooldownDuration: options.jwks.cooldownMs ?? 30_000,
        cacheMaxAge: options.jwks.cacheMaxAgeMs ?? 600_000,
        [customFetch]: boundedFetch(dispatcher),
      });
      // jose's cooldown starts at a successful fetch only: while the endpoint fails, every token
      // (a made-up kid included) would fetch again. Failures start a cooldown of their own.
      let failedAt: number | undefined;
      keys = async (header, token) => {
        if (failedAt !== undefined && now() - failedAt < failureCooldownMs)
          throw new JwksCoolingDownError();
        try {
          const key = await fetched(header, token);
          failedAt = undefined;
          return key;
        } catch (error) {
          if (reasonFor(error) === 'jwks-unavailable') failedAt = now();
          throw error;
        }
      };
      remote.set(url, keys);
    }
    return keys;
  }

  function localKeys(issuer: TrustedIssuer): JWTVerifyGetKey {
    let keys = local.get(issuer.iss);
    if (keys === undefined) {
      keys = createLocalJWKSet(issuer.jwks as unknown as JSONWebKeySet);
      local.set(issuer.iss, keys);
    }
    return keys;
  }

  async function authenticate(
    authorization: string | undefined,
    audience: string,
  ): Promise<AuthResult> {
    if (authorization === undefined || authorization === '')
      return { ok: false, reason: 'missing' };
    if (authorization.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
    const token = BEARER.exec(authorization.trim())?.[1];
    if (token === undefined) return { ok: false, reason: 'malformed' };

    let header: JWSHeaderParameters;
    let claims: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const iss = forLog(claims.iss);
    const jti = forLog(claims.jti);
    const fail = (reason: AuthFailureReason): AuthResult => ({
      ok: false,
      reason,
      ...(iss !== undefined ? { iss } : {}),
      ...(jti !== undefined ? { jti } : {}),
    });

    if (!(ALLOWED_ALGORITHMS as readonly unknown[]).includes(header.alg)) return fail('algorithm');
    if (typeof header.kid !== 'string' || header.kid === '') return fail('malformed');
    if (header.typ !== undefined && header.typ.toUpperCase() !== 'JWT') return fail('malformed');
    const issuer = typeof claims.iss === 'string' ? byIss.get(claims.iss) : undefined;
    if (issuer === undefined) return fail('unknown-issuer');

    let keys: JWTVerifyGetKey;
    if (header.jku !== undefined) {
      const jku = typeof header.jku === 'string' ? header.jku : '';
      if (!issuer.allowedJku.includes(jku)) return fail('jku-not-allowed');
      keys = remoteKeys(jku);
    } else if (issuer.jwksUrl !== undefined) {
      keys = remoteKeys(issuer.jwksUrl);
    } else {
      keys = localKeys(issuer);
    }

    const currentMs = now();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: issuer.iss,
        audience,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: tolerance,
        maxTokenAge: MAX_TOKEN_LIFETIME_SEC + tolerance,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        currentDate: new Date(currentMs),
      }));
    } catch (error) {
      return fail(reasonFor(error));
    }
    const exp = payload.exp as number;
    if (exp - currentMs / 1000 > MAX_TOKEN_LIFETIME_SEC + tolerance) return fail('lifetime');
    // The lifetime the issuer gave the token, not only what is left of it (issue 15).
    if (exp - (payload.iat as number) > MAX_TOKEN_LIFETIME_SEC + tolerance) return fail('lifetime');
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256)
      return fail('claims');
    let fresh: boolean;
    try {
      fresh = await replay.remember(`${issuer.iss}\u0000${payload.jti}`, (exp + tolerance) * 1000);
    } catch {
      return fail('replay-cache-unavailable');
    }
    if (!fresh) return fail('replay');
    const tenant = forLog(payload.tenant);
    return { ok: true, issuer, jti: payload.jti, ...(tenant !== undefined ? { tenant } : {}) };
  }

  return {
    authenticate,
    close: async () => {
      await dispatcher?.close();
    },
  };
}
