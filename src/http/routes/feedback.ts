import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { parseFeedbackRequest, type OfferedReason } from '../../feedback/feedback-request.js';
import type { FeedbackRecordResult, FeedbackStore } from '../../feedback/feedback-store.js';
import { AppError } from '../../shared/errors.js';
import { httpStatus } from '../error-status.js';
import { JSON_MEDIA_TYPES } from '../json-body.js';
import { locals } from '../request-context.js';

/**
 * Largest feedback body (issue 15): 100 entries of a few hundred bytes. The route reads its own
 * body with this limit; the app mounts it before the hook calls' larger parser.
 */
export const FEEDBACK_BODY_LIMIT = 64 * 1024;
/** Feedback bodies waiting to be stored at most; more answer 503 with Retry-After. */
export const DEFAULT_MAX_PENDING_FEEDBACK = 64;

export interface FeedbackRouteDeps {
  readonly store: FeedbackStore;
  /** Whether `{id}` names a service of this server (default: any id is accepted). */
  readonly isKnownService?: (serviceId: string) => boolean;
  /** The override reasons the cards offer: a reason is matched to them by system and code. */
  readonly offeredReasons?: readonly OfferedReason[];
  /** Called after each stored body, with counts only (for the log line of that request). */
  readonly onRecorded?: (serviceId: string, result: FeedbackRecordResult, res: Response) => void;
  /** Bodies validated and waiting for the store at most (default DEFAULT_MAX_PENDING_FEEDBACK). */
  readonly maxPending?: number;
}

type IssueCode = 'not-found' | 'invalid' | 'too-long' | 'transient';

function outcome(code: IssueCode, diagnostics: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics }],
  };
}

/**
 * Runs queued jobs one per turn of the event loop (each from its own setImmediate), so that
 * hook calls' I/O and timers run between two feedback writes however many bodies arrive at once.
 */
function oneJobPerTurn(): { run<T>(job: () => T): Promise<T>; readonly size: number } {
  const queue: (() => void)[] = [];
  const next = (): void => {
    queue.shift()?.();
    if (queue.length > 0) setImmediate(next);
  };
  return {
    run: <T>(job: () => T) =>
      new Promise<T>((resolve, reject) => {
        queue.push(() => {
          try {
            resolve(job());
          } catch (error) {
            reject(error instanceof Error ? error : new Error('feedback could not be stored'));
          }
        });
        if (queue.length === 1) setImmediate(next);
      }),
    get size() {
      return queue.length;
    },
  };
}

/**
 * `POST /cds-services/{id}/feedback` ({@link https://cds-hooks.hl7.org/2.0/#feedback}): validates
 * the body, stores each entry (duplicates are ignored, so a client may resend) and answers 200 with
 * no body. A malformed body gets 400 with an OperationOutcome, an unknown service 404, a body over
 * FEEDBACK_BODY_LIMIT 413, and a flood past `maxPending` waiting bodies 503. The route reads and
 * answers on its own so that it also works outside the app's parsers and error middleware.
 * @param deps - the store and, optionally, the known service ids and the offered reasons.
 */
export function feedbackRouter(deps: FeedbackRouteDeps): Router {
  const router = Router();
  const writes = oneJobPerTurn();
  const maxPending = deps.maxPending ?? DEFAULT_MAX_PENDING_FEEDBACK;
  router.post(
    '/cds-services/:id/feedback',
    (req: Request, res: Response, next: NextFunction) => {
      if (deps.isKnownService !== undefined && !deps.isKnownService(req.params.id as string)) {
        res.status(404).json(outcome('not-found', 'no CDS service with this id'));
        return;
      }
      next();
    },
    express.json({ limit: FEEDBACK_BODY_LIMIT, type: JSON_MEDIA_TYPES }),
    async (req: Request, res: Response) => {
      const serviceId = req.params.id as string;
      let result: FeedbackRecordResult;
      try {
        const body = parseFeedbackRequest(req.body, deps.offeredReasons);
        if (writes.size >= maxPending) {
          locals(res).feedbackShed = true;
          res
            .status(503)
            .setHeader('Retry-After', '1')
            .json(outcome('transient', 'too much feedback at once: send it again shortly'));
          return;
        }
        result = await writes.run(() => deps.store.record(serviceId, body.feedback));
      } catch (error) {
        if (error instanceof AppError) {
          res.status(httpStatus(error)).json(error.toOperationOutcome());
          return;
        }
        throw error;
      }
      deps.onRecorded?.(serviceId, result, res);
      res.status(200).end();
    },
  );
  // Body errors of this route: 400 or 413, not a generic 500.
  router.use(
    '/cds-services/:id/feedback',
    (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      const type = (error as { type?: unknown } | null)?.type;
      if (type === 'entity.parse.failed') {
        res.status(400).json(outcome('invalid', 'the body is not valid JSON'));
        return;
      }
      if (type === 'entity.too.large') {
        res
          .status(413)
          .json(
            outcome('too-long', `a feedback body is at most ${String(FEEDBACK_BODY_LIMIT)} bytes`),
          );
        return;
      }
      next(error);
    },
  );
  return router;
}
