/**
 * Hook calls read as raw bytes so that an evaluation worker can parse them (prefetched-call.ts).
 * When a call comes back to the HTTP thread, it is parsed here exactly as `express.json()` (strict,
 * UTF-8) would have, so a client sees the same answers and errors either way.
 */
import express, { type RequestHandler } from 'express';
import { InvalidRequestError } from '../shared/errors.js';
import { decodeJsonBody } from '../cds-hooks/prefetched-call.js';

/** The media types read as JSON. */
export const JSON_MEDIA_TYPES = ['application/json', 'application/*+json'];

/**
 * The body parser of `/cds-services`, for hook calls (`POST /cds-services/{id}`) only: no other
 * request there has a body to read (feedback reads its own, with a smaller limit). Raw bytes with
 * a UTF-8 (or unstated) charset when `rawHookCalls` is on, `express.json()` otherwise.
 */
export function cdsServicesBodyParser(options: {
  readonly limit: string | number;
  readonly rawHookCalls: boolean;
}): RequestHandler {
  const json: RequestHandler = express.json({ limit: options.limit, type: JSON_MEDIA_TYPES });
  const raw: RequestHandler = express.raw({ limit: options.limit, type: JSON_MEDIA_TYPES });
  return (req, res, next) => {
    if (req.method !== 'POST' || !/^\/[^/]+\/?$/.test(req.path)) {
      next();
      return;
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    const utf8 = charset === undefined || charset.toLowerCase() === 'utf-8';
    if (options.rawHookCalls && utf8) raw(req, res, next);
    else json(req, res, next);
  };
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * `express.json()`'s parse of a UTF-8 body: an empty body is `{}`, the value must be an object or an
 * array, a byte-order mark is ignored.
 * @throws InvalidRequestError (400) as the error handler reports body-parser's parse errors.
 */
export function parseJsonBody(body: Uint8Array): unknown {
  const text = decodeJsonBody(body);
  if (text.length === 0) return {};
  let i = 0;
  while (i < text.length && WHITESPACE.has(text.charAt(i))) i++;
  const first = text.charAt(i);
  try {
    if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidRequestError('the request body is not valid JSON', {
      expression: ['(body)'],
    });
  }
}
