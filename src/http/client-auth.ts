import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ClientAuthenticator } from '../security/client-auth.js';
import { StoreUnavailableError } from '../shared/errors.js';
import { locals } from './request-context.js';

/** The route pattern of a path under /cds-services (the path itself is never logged). */
function routePattern(path: string): string {
  const parts = path.replace(/\/+$/, '').split('/').slice(2);
  if (parts.length === 0) return '/cds-services';
  if (parts.length === 1) return '/cds-services/:id';
  if (parts.length === 2 && parts[1] === 'feedback') return '/cds-services/:id/feedback';
  return '/cds-services/(unmatched)';
}

/**
 * Requires a trusted client's JWT on every call under the mount point (discovery included).
 * {@link https://cds-hooks.hl7.org/2.0/#trusting-cds-clients}
 *
 * `aud` must equal the URL called: PUBLIC_BASE_URL plus the path when the service is behind a
 * proxy, otherwise the scheme and Host of the request. Any failure answers a bare 401 (no body,
 * no reason: the reason category, iss and jti go to the log; the token never does).
 * @param authenticator - the verifier built from CDS_TRUSTED_ISSUERS.
 * @param publicBaseUrl - the service's public URL, without a trailing slash.
 */
export function requireClientAuth(
  authenticator: ClientAuthenticator,
  publicBaseUrl?: string,
): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    // The preflight carries no credentials (cors() has answered it already).
    if (req.method === 'OPTIONS') {
      next();
      return;
    }
    const path = new URL(req.originalUrl, 'http://path.invalid').pathname;
    const base = publicBaseUrl ?? `${req.protocol}://${req.get('host') ?? ''}`;
    let result;
    try {
      result = await authenticator.authenticate(req.get('authorization'), `${base}${path}`);
    } catch {
      result = { ok: false as const, reason: 'jwks-unavailable' as const };
    }
    const log = locals(res).log;
    if (!result.ok) {
      // Answered before routing: name the route pattern for the access line (issue 14).
      locals(res).route = routePattern(path);
      locals(res).authFailure = result.reason;
      log.warn(
        { reason: result.reason, iss: result.iss, jti: result.jti },
        'client authentication failed',
      );
      // Issue 17: the replay check could not be made (the database is away): fail closed, but
      // say so (a valid token is not "unauthorized"; the client may retry).
      if (result.reason === 'replay-cache-unavailable') {
        res.status(503).setHeader('Retry-After', '5');
        res.json(
          new StoreUnavailableError(
            'the token could not be checked against replay: the database is unavailable',
          ).toOperationOutcome(),
        );
        return;
      }
      res.status(401).setHeader('WWW-Authenticate', 'Bearer');
      res.end();
      return;
    }
    locals(res).client = result.issuer;
    locals(res).log = log.child({
      iss: result.issuer.iss,
      jti: result.jti,
      ...(result.tenant !== undefined ? { tenant: result.tenant } : {}),
    });
    next();
  };
}
