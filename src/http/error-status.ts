import type { AppError, ErrorKind } from '../shared/errors.js';

/**
 * The HTTP status of each kind of error (shared/errors.ts): the one place where the project's
 * errors meet HTTP.
 * {@link https://cds-hooks.hl7.org/2.0/#http-status-codes}
 */
const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  'not-found': 404,
  // CDS Hooks: required prefetch data missing and the FHIR server unusable.
  'data-unavailable': 412,
  'too-large': 413,
  internal: 500,
  unavailable: 503,
};

/** The HTTP status an error is answered with. */
export function httpStatus(error: AppError): number {
  return STATUS_OF_KIND[error.kind];
}
