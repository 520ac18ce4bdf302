import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, errors, type Dispatcher } from 'undici';

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

/** The decoder of one content coding, as fetch applies them; undefined for one it does not know. */
function decoderFor(coding: string): Transform | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

function headerValue(rawHeaders: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]?.toString('latin1').toLowerCase() === name)
      return rawHeaders[i + 1]?.toString('latin1');
  return undefined;
}

/**
 * Bounds a response body by its decoded size: undici's maxResponseSize counts the bytes on the
 * wire, so a 30 KB gzip answer would grow to 30 MB once fetch decodes it (issue 15 item 6). The
 * encoded bytes are decoded once more here only to be counted, in step with the transfer; past the
 * limit the request fails with undici's "response larger than maxResponseSize". The response is
 * complete only once every byte has been counted.
 */
class DecodedSizeLimit implements Dispatcher.DispatchHandlers {
  private abort: ((error?: Error) => void) | undefined;
  /** The first decoder (fed the body) and the last (whose output is counted). */
  private decoder: Transform | undefined;
  private lastDecoder: Transform | undefined;
  private decoded = 0;
  private done = false;

  constructor(
    private readonly handler: Dispatcher.DispatchHandlers,
    private readonly maxBytes: number,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
    this.handler.onConnect?.(abort);
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    const encoding = headerValue(rawHeaders, 'content-encoding');
    const codings = (encoding ?? '')
      .toLowerCase()
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '' && c !== 'identity')
      .reverse();
    const decoders = codings.map(decoderFor);
    // A coding fetch does not decode reaches the caller as it came: its size is already bounded.
    if (decoders.length > 0 && decoders.every((d) => d !== undefined)) {
      const chain = decoders;
      for (let i = 0; i + 1 < chain.length; i++) chain[i]?.pipe(chain[i + 1] as Transform);
      const last = chain[chain.length - 1] as Transform;
      last.on('data', (chunk: Buffer) => {
        this.decoded += chunk.length;
        if (this.decoded > this.maxBytes) this.fail();
      });
      // A body that does not decode is fetch's error to report; counting stops.
      for (const decoder of chain) decoder.on('error', () => undefined);
      this.decoder = chain[0];
      this.lastDecoder = last;
    }
    return this.handler.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.decoder?.write(chunk);
    return this.handler.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    const decoder = this.decoder;
    const last = this.lastDecoder;
    if (decoder === undefined || last === undefined || this.done) {
      if (!this.done) this.handler.onComplete?.(trailers);
      return;
    }
    const finish = (): void => {
      if (this.done) return;
      this.done = true;
      this.handler.onComplete?.(trailers);
    };
    last.once('end', finish);
    last.once('error', finish);
    decoder.end();
  }

  onError(error: Error): void {
    this.decoder?.destroy();
    if (this.done) return;
    this.done = true;
    this.handler.onError?.(error);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: never): void {
    this.handler.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.handler.onBodySent?.(chunkSize, totalBytesSent);
  }

  private fail(): void {
    if (this.done) return;
    const error = new errors.ResponseExceededMaxSizeError(
      'the decoded response is larger than the limit',
    );
    // Reported here once, whether the transfer is still running (aborted: undici's own onError
    // call is then ignored) or has ended (waiting for the count).
    this.done = true;
    this.decoder?.destroy();
    this.abort?.(error);
    this.handler.onError?.(error);
  }
}

/**
 * An undici dispatcher for Node's fetch (`new Request(url, { dispatcher })`). It never follows
 * redirects itself; callers use `redirect: 'manual'` and decide. The body limit counts both the
 * bytes received and, for a compressed answer, the bytes it decodes to.
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
  }).compose(
    (dispatch) => (options, handler) =>
      dispatch(options, new DecodedSizeLimit(handler, limits.maxResponseBytes)),
  );
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
