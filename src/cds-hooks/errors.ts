import { AppError } from '../shared/errors.js';

/**
 * Errors of the CDS Hooks API, each with its status.
 * {@link https://cds-hooks.hl7.org/2.0/#http-status-codes}
 */

/** The hook request is malformed: 400 with the offending fields in `expression`. */
export class InvalidRequestError extends AppError {
  readonly status = 400;
  readonly issueCode = 'invalid' as const;
}

/** No CDS service or route with that id: 404. */
export class NotFoundError extends AppError {
  readonly status = 404;
  readonly issueCode = 'not-found' as const;
}

/** Required prefetch data is missing and cannot be fetched (no fhirServer): 412. */
export class PrefetchUnavailableError extends AppError {
  readonly status = 412;
  readonly issueCode = 'processing' as const;
}

/** The FHIR server could not supply the data (error status, timeout, invalid answer): 412. */
export class FhirUnavailableError extends AppError {
  readonly status = 412;
  readonly issueCode = 'processing' as const;
}

/** The request body is larger than BODY_LIMIT: 413. */
export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly issueCode = 'too-long' as const;
}
