/**
 * One error taxonomy (shared/errors.ts), mapped to HTTP only in http/ (issue 16 item 4): each error
 * the service raises is answered with the status CDS Hooks 2.0 gives it.
 * {@link https://cds-hooks.hl7.org/2.0/#http-status-codes}
 */
import { httpStatus } from '../../src/http/error-status.js';
import * as errors from '../../src/shared/errors.js';

const EXPECTED: Readonly<Record<string, number>> = {
  InvalidPatientDataError: 400,
  CqlEvaluationError: 500,
  InvalidRequestError: 400,
  NotFoundError: 404,
  PrefetchUnavailableError: 412,
  FhirUnavailableError: 412,
  PayloadTooLargeError: 413,
  InvalidFeedbackError: 400,
  EngineDeadlineError: 503,
  EngineAbortedError: 503,
  EngineOverloadedError: 503,
  StoreUnavailableError: 503,
};

type Concrete = new (message: string) => errors.AppError;

/** Every concrete AppError class that shared/errors.ts exports. */
function appErrorClasses(): [string, Concrete][] {
  const exported: Record<string, unknown> = { ...errors };
  return Object.entries(exported).filter(
    (entry): entry is [string, Concrete] =>
      typeof entry[1] === 'function' &&
      entry[1] !== errors.AppError &&
      (entry[1] as { prototype: unknown }).prototype instanceof errors.AppError,
  );
}

describe('HTTP status of the error taxonomy', () => {
  it('lists every AppError of shared/errors.ts', () => {
    expect(
      appErrorClasses()
        .map(([name]) => name)
        .sort(),
    ).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s is answered with %i', (name, status) => {
    const found = appErrorClasses().find(([className]) => className === name);
    expect(found).toBeDefined();
    const [, ErrorClass] = found!;
    expect(httpStatus(new ErrorClass('a message'))).toBe(status);
  });

  it('carries no HTTP status itself (http/ maps it)', () => {
    for (const [, ErrorClass] of appErrorClasses())
      expect(Object.keys(new ErrorClass('m'))).not.toContain('status');
  });

  it('tells service faults (internal, unavailable) from bad input', () => {
    expect(errors.isServiceFault(new errors.CqlEvaluationError('m'))).toBe(true);
    expect(errors.isServiceFault(new errors.EngineDeadlineError('m'))).toBe(true);
    expect(errors.isServiceFault(new errors.InvalidPatientDataError('m'))).toBe(false);
    expect(errors.isServiceFault(new errors.FhirUnavailableError('m'))).toBe(false);
  });
});
