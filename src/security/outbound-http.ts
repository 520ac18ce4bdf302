import { Agent, type Dispatcher } from 'undici';

/**
 * Outbound HTTP with limits: every request the service makes to a host it does not run (a FHIR
 * server, a JWK Set URL) goes through one of these dispatchers, so an answer cannot be larger than
 * the limit or hold a connection open longer than the timeouts.
 */
export interface OutboundLimits {
  /** Largest response body, in bytes: past it the request fails. */
  readonly maxResponseBytes: number;
  /** Connecting, and waiting for headers and for each body chunk, each at most this long. */
  readonly timeoutMs: number;
}

/**
 * An undici dispatcher for Node's fetch (`new Request(url, { dispatcher })`). It never follows
 * redirects itself; callers use `redirect: 'manual'` and decide.
 * @param limits - body size and timeouts.
 */
export function createOutboundDispatcher(limits: OutboundLimits): Dispatcher {
  return new Agent({
    maxResponseSize: limits.maxResponseBytes,
    connect: { timeout: limits.timeoutMs },
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
    keepAliveTimeout: 10_000,
    connections: 32,
  });
}

/** Whether a fetch failure is undici's "response larger than maxResponseSize". */
export function isResponseTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let i = 0; i < 5 && typeof current === 'object' && current !== null; i++) {
    if ((current as { code?: unknown }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A fetch bound to a dispatcher, for libraries that take a fetch function (jose's JWKS).
 * @param dispatcher - from createOutboundDispatcher.
 */
export function boundedFetch(dispatcher: Dispatcher): typeof fetch {
  return (input, init) =>
    fetch(input, { ...init, redirect: 'manual', dispatcher } as unknown as RequestInit);
}
