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

/** An error that leaves the service as a FHIR OperationOutcome with an HTTP status. */
export abstract class AppError extends Error {
  abstract readonly status: number;
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

/** Input that is not a usable FHIR Bundle of one patient's record. */
export class InvalidPatientDataError extends AppError {
  readonly status = 400;
  readonly issueCode = 'invalid' as const;
}

/** The CQL engine failed: the message never holds patient data. */
export class CqlEvaluationError extends AppError {
  readonly status = 500;
  readonly issueCode = 'exception' as const;
}
