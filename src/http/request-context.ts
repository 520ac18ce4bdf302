import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TrustedIssuer } from '../security/trusted-issuers.js';
import type { Logger } from './logger.js';

/** Per-request values kept in res.locals. */
export interface RequestLocals {
  requestId: string;
  log: Logger;
  /** A route pattern to log instead of the URL (which may hold a patient id). */
  route?: string;
  /** When the request arrived (`Date.now()`): the time budget counts from here. */
  receivedAt?: number;
  /** The authenticated CDS client (issue 5), when authentication is on. */
  client?: TrustedIssuer;
  /** Metrics (issue 18): how a hook call answered 200 was answered. */
  hookOutcome?: string;
  /** Metrics: why client authentication failed (the reason category). */
  authFailure?: string;
  /** Metrics: a feedback body refused because too many wait to be stored (503). */
  feedbackShed?: boolean;
}

export function locals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

const REQUEST_ID = /^[A-Za-z0-9\-_.]{1,64}$/;

/**
 * Gives each request an id (a well-formed incoming X-Request-Id is kept), a child logger that
 * carries it, and one access log line when the response is finished. The line holds the route
 * pattern, never the URL, query or body.
 * @param logger - the process logger.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('x-request-id');
    const requestId = incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const context: RequestLocals = {
      requestId,
      log: logger.child({ requestId }),
      receivedAt: Date.now(),
    };
    Object.assign(res.locals, context);
    res.on('finish', () => {
      const route =
        locals(res).route ??
        (req.route !== undefined
          ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}`
          : '(unmatched)');
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      locals(res).log.info(
        {
          method: req.method,
          route,
          status: res.statusCode,
          durationMs: Math.round(durationMs * 10) / 10,
        },
        'request',
      );
    });
    next();
  };
}
