import { createServer, type RequestListener, type Server } from 'node:http';

/** How long a connection may take to send its request, and how many may be open. */
export interface ServerLimits {
  /**
   * Idle time a keep-alive connection is kept open between requests: longer than the idle timeout
   * of common load balancers (AWS ALB: 60 s), so that the balancer closes idle connections.
   */
  readonly keepAliveTimeoutMs: number;
  /** Time for a request's headers to arrive; at most requestTimeoutMs. */
  readonly headersTimeoutMs: number;
  /** Time for a whole request (headers and body) to arrive. */
  readonly requestTimeoutMs: number;
  /** Open connections at most: more are closed on arrival. */
  readonly maxConnections: number;
}

/**
 * Reports connections closed on arrival because maxConnections were open (for a log line): the
 * first at once, then at most once per DROP_REPORT_INTERVAL_MS with the count since the last.
 */
export type OnConnectionsDropped = (dropped: number) => void;

/** Dropped connections are reported at most this often, as a count. */
const DROP_REPORT_INTERVAL_MS = 10_000;

/**
 * Node checks the headers and request timeouts of open connections this often (its default is
 * 30 s, which let a slow body hold a connection for the request timeout plus up to 30 s).
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * The HTTP server, with its timeouts given at creation (issue 15): Node checks them there
 * (headersTimeout <= requestTimeout) and applies them to every connection from the first one;
 * set after `listen`, a headers timeout above the request timeout held slow bodies for ~90 s.
 * @param app - the request listener (the express app).
 * @param limits - timeouts and the connection cap.
 */
export function createHttpServer(
  app: RequestListener,
  limits: ServerLimits,
  onDropped?: OnConnectionsDropped,
): Server {
  const server = createServer(
    {
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  if (onDropped !== undefined) {
    // One report per interval at most, with the count since the last one.
    let dropped = 0;
    let quietUntil = 0;
    server.on('drop', () => {
      dropped++;
      const now = Date.now();
      if (now < quietUntil) return;
      onDropped(dropped);
      dropped = 0;
      quietUntil = now + DROP_REPORT_INTERVAL_MS;
    });
  }
  return server;
}
