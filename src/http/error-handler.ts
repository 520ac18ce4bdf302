import type { NextFunction, Request, Response } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { AppError } from '../shared/errors.js';
import { InvalidRequestError, PayloadTooLargeError } from '../cds-hooks/errors.js';
import { locals } from './request-context.js';

const GENERIC_500: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'exception', diagnostics: 'internal error' }],
};

/** body-parser errors carry a `type` and a status. */
function fromBodyParser(error: unknown): AppError | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large')
    return new PayloadTooLargeError('the request body is larger than the service accepts');
  if (type === 'entity.parse.failed')
    return new InvalidRequestError('the request body is not valid JSON', {
      expression: ['(body)'],
    });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new InvalidRequestError('unsupported request encoding', { expression: ['(body)'] });
  return undefined;
}

/**
 * The one error middleware: every error leaves as a FHIR OperationOutcome. An AppError keeps
 * its status and message (they never hold patient data); anything else is logged with its stack
 * and answered with a generic 500.
 * {@link https://cds-hooks.hl7.org/2.0/#http-status-codes}
 */
export function errorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  if (res.headersSent) {
    next(error);
    return;
  }
  const appError = error instanceof AppError ? error : fromBodyParser(error);
  const log = locals(res).log;
  if (appError === undefined) {
    log.error({ err: error }, 'unhandled error');
    res.status(500).type('application/fhir+json').json(GENERIC_500);
    return;
  }
  if (appError.status >= 500) log.error({ err: appError }, appError.name);
  else
    log.warn(
      { error: appError.name, status: appError.status, issue: appError.message },
      'request failed',
    );
  res.status(appError.status).type('application/fhir+json').json(appError.toOperationOutcome());
}
