import type { NextFunction, Request, Response } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { AppError, InvalidRequestError, PayloadTooLargeError } from '../shared/errors.js';
import { httpStatus } from './error-status.js';
import { locals } from './request-context.js';

const GENERIC_500: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'exception', diagnostics: 'internal error' }],
};

/**
 * What is logged of an unexpected error: its type and stack frames, not its message, which may
 * quote patient data (a library error echoing a value) or a token.
 */
export function errorForLog(error: unknown): { type: string; stack?: string; cause?: unknown } {
  if (!(error instanceof Error)) return { type: typeof error };
  const frames = error.stack?.split('\n').filter((line) => line.trimStart().startsWith('at '));
  return {
    type: error.name,
    ...(frames !== undefined && frames.length > 0 ? { stack: frames.join('\n') } : {}),
    ...(error.cause !== undefined ? { cause: errorForLog(error.cause) } : {}),
  };
}

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
 * its message and gets the status of its kind (error-status.ts) (they never hold patient data); anything else is logged with its stack
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
    log.error({ error: errorForLog(error) }, 'unhandled error');
    res.status(500).type('application/fhir+json').json(GENERIC_500);
    return;
  }
  // An AppError's message is written by this service and holds no patient data; its cause may.
  const status = httpStatus(appError);
  if (status >= 500)
    log.error(
      { error: appError.name, issue: appError.message, cause: errorForLog(appError.cause) },
      'request failed',
    );
  else log.warn({ error: appError.name, status, issue: appError.message }, 'request failed');
  // A 500 (a CQL evaluation error among them) says nothing more than "internal error".
  const body = status === 500 ? GENERIC_500 : appError.toOperationOutcome();
  res.status(status).type('application/fhir+json').json(body);
}
