import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * CORS for browser EHR simulators (the CDS Hooks Sandbox shows "No recommendations" without it).
 * Credentials (cookies) are never allowed, so `*` is safe; the JWT travels in Authorization,
 * which the preflight allows explicitly.
 * @param origins - allowed origins; `*` allows any.
 */
export function cors(origins: readonly string[]): RequestHandler {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin !== undefined && (any || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
      if (!any) res.vary('Origin');
      res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
        res.setHeader('Access-Control-Max-Age', '600');
      }
    }
    if (req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined) {
      res.status(204).end();
      return;
    }
    next();
  };
}
