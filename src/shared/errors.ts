import type { OperationOutcome } from 'fhir/r4.js';

/** FHIR OperationOutcome issue types used by this service. */
export type IssueType =
  | 'invalid'
  | 'not-found'
  | 'processing'
  | 'exception'
  | 'too-long'
  | 'security'
  | 'timeout'
  | 'transient';

/**
 * The one error taxonomy of the project (issue 16 item 4): what kind of failure an error is, never
 * how a transport reports it. http/error-status.ts maps each kind to an HTTP status (the only
 * place that knows HTTP); the CLI and population screening read the kind.
 * - invalid: the input (a hook request, a record, a feedback body) cannot be used;
 * - not-found: no such service or route;
 * - data-unavailable: the data a request needs cannot be had (no prefetch and no FHIR server, or
 *   the FHIR server failed);
 * - too-large: the input is larger than allowed;
 * - internal: the service failed (the CQL engine); the message holds no patient data;
 * - unavailable: the service cannot do it now (deadline, overload, a store unreachable): retry.
 */
export type ErrorKind =
  'invalid' | 'not-found' | 'data-unavailable' | 'too-large' | 'internal' | 'unavailable';

/** An error that leaves the service as a FHIR OperationOutcome; its kind decides the status. */
export abstract class AppError extends Error {
  abstract readonly kind: ErrorKind;
  abstract readonly issueCode: IssueType;
  /** FHIRPath-like locations of the problem, e.g. `context.patientId`. */
  readonly expression: readonly string[];

  constructor(message: string, options: { cause?: unknown; expression?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.expression = options.expression ?? [];
  }

  toOperationOutcome(): OperationOutcome {
    return {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: this.issueCode,
          diagnostics: this.message,
          ...(this.expression.length > 0 ? { expression: [...this.expression] } : {}),
        },
      ],
    };
  }
}

/** Configuration or definition files that cannot be used: the process must not start. */
export class ConfigurationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** Whether the failure is the service's (internal, unavailable) rather than the input's. */
export function isServiceFault(error: AppError): boolean {
  return error.kind === 'internal' || error.kind === 'unavailable';
}

/** Input that is not a usable FHIR Bundle of one patient's record. */
export class InvalidPatientDataError extends AppError {
  readonly kind = 'invalid';
  readonly issueCode = 'invalid' as const;
}

/** The CQL engine failed: the message never holds patient data. */
export class CqlEvaluationError extends AppError {
  readonly kind = 'internal';
  readonly issueCode = 'exception' as const;
}

/**
 * Errors of the CDS Hooks API.
 * {@link https://cds-hooks.hl7.org/2.0/#http-status-codes}
 */

/** The hook request is malformed (HTTP 400), with the offending fields in `expression`. */
export class InvalidRequestError extends AppError {
  readonly kind = 'invalid';
  readonly issueCode = 'invalid' as const;
}

/** No CDS service or route with that id (HTTP 404). */
export class NotFoundError extends AppError {
  readonly kind = 'not-found';
  readonly issueCode = 'not-found' as const;
}

/** Required prefetch data is missing and cannot be fetched, no fhirServer (HTTP 412). */
export class PrefetchUnavailableError extends AppError {
  readonly kind = 'data-unavailable';
  readonly issueCode = 'processing' as const;
}

/** The FHIR server could not supply the data: error status, timeout, invalid answer (HTTP 412). */
export class FhirUnavailableError extends AppError {
  readonly kind = 'data-unavailable';
  readonly issueCode = 'processing' as const;
}

/** The request body is larger than BODY_LIMIT (HTTP 413). */
export class PayloadTooLargeError extends AppError {
  readonly kind = 'too-large';
  readonly issueCode = 'too-long' as const;
}

/** A feedback body that does not follow the spec (HTTP 400 with an OperationOutcome). */
export class InvalidFeedbackError extends AppError {
  readonly kind = 'invalid';
  readonly issueCode = 'invalid' as const;
}

/** The evaluation passed its deadline and was abandoned (HTTP 503). */
export class EngineDeadlineError extends AppError {
  readonly kind = 'unavailable';
  readonly issueCode = 'timeout' as const;
}

/** The caller aborted the evaluation (HTTP 503). */
export class EngineAbortedError extends AppError {
  readonly kind = 'unavailable';
  readonly issueCode = 'timeout' as const;
}

/** Too many evaluations are waiting, or the pool is closed (HTTP 503). */
export class EngineOverloadedError extends AppError {
  readonly kind = 'unavailable';
  readonly issueCode = 'processing' as const;
}

/**
 * The database holding feedback, the card ledger or the replay cache cannot be reached (HTTP 503):
 * the caller may retry (nothing was stored).
 */
export class StoreUnavailableError extends AppError {
  readonly kind = 'unavailable';
  readonly issueCode = 'transient' as const;
}
