import { AppError } from '../shared/errors.js';

/** The evaluation passed its deadline and was abandoned. */
export class EngineDeadlineError extends AppError {
  readonly status = 503;
  readonly issueCode = 'timeout' as const;
}

/** The caller aborted the evaluation. */
export class EngineAbortedError extends AppError {
  readonly status = 503;
  readonly issueCode = 'timeout' as const;
}

/** Too many evaluations are waiting (or the pool is closed). */
export class EngineOverloadedError extends AppError {
  readonly status = 503;
  readonly issueCode = 'processing' as const;
}
