import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { parseFeedbackRequest } from '../../feedback/feedback-request.js';
import type { FeedbackRecordResult, FeedbackStore } from '../../feedback/feedback-store.js';
import { AppError } from '../../shared/errors.js';

export interface FeedbackRouteDeps {
  readonly store: FeedbackStore;
  /** Whether `{id}` names a service of this server (default: any id is accepted). */
  readonly isKnownService?: (serviceId: string) => boolean;
  /** Called after each stored body, with counts only (for the access log). */
  readonly onRecorded?: (serviceId: string, result: FeedbackRecordResult) => void;
}

function outcome(code: 'not-found' | 'invalid', diagnostics: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics }],
  };
}

/**
 * `POST /cds-services/{id}/feedback` ({@link https://cds-hooks.hl7.org/2.0/#feedback}): validates
 * the body, stores each entry (duplicates are ignored, so a client may resend) and answers 200 with
 * no body. A malformed body gets 400 with an OperationOutcome, an unknown service 404. The route
 * answers its own errors so that it also works outside the app's error middleware.
 * @param deps - the store and, optionally, the known service ids.
 */
export function feedbackRouter(deps: FeedbackRouteDeps): Router {
  const router = Router();
  // A no-op when the app has already parsed the body (it has: express.json on /cds-services).
  router.use('/cds-services/:id/feedback', express.json({ limit: '1mb' }));
  router.post('/cds-services/:id/feedback', async (req: Request, res: Response) => {
    const serviceId = req.params.id as string;
    if (deps.isKnownService !== undefined && !deps.isKnownService(serviceId)) {
      res.status(404).json(outcome('not-found', 'no CDS service with this id'));
      return;
    }
    let result: FeedbackRecordResult;
    try {
      const body = parseFeedbackRequest(req.body);
      result = await deps.store.record(serviceId, body.feedback);
    } catch (error) {
      if (error instanceof AppError) {
        res.status(error.status).json(error.toOperationOutcome());
        return;
      }
      throw error;
    }
    deps.onRecorded?.(serviceId, result);
    res.status(200).end();
  });
  // Unparseable JSON reaching this router (when used on its own): 400, not a generic 500.
  router.use(
    '/cds-services/:id/feedback',
    (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      const type = (error as { type?: unknown } | null)?.type;
      if (type === 'entity.parse.failed') {
        res.status(400).json(outcome('invalid', 'the body is not valid JSON'));
        return;
      }
      next(error);
    },
  );
  return router;
}
