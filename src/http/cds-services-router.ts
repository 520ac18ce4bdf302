import { Router, type Request, type Response } from 'express';
import { answerPatientView, type PatientViewDeps } from '../cds-hooks/patient-view.js';
import { NotFoundError } from '../cds-hooks/errors.js';
import { parsePatientViewRequest } from '../cds-hooks/request.js';
import { discoveryDocument, type ServiceDefinition } from '../cds-hooks/service-definition.js';
import { EngineDeadlineError, EngineOverloadedError } from '../engine/engine-errors.js';
import { errorForLog } from './error-handler.js';
import { locals } from './request-context.js';

export interface CdsServicesRouterDeps extends PatientViewDeps {
  /**
   * Per hook call (REQUEST_BUDGET_MS): past it the answer is `{"cards": []}`, FHIR reads are
   * cancelled and the evaluation abandoned. Absent: no budget.
   */
  readonly requestBudgetMs?: number;
}

/** Why a call's work was stopped. */
class BudgetExceeded extends Error {
  override readonly name = 'BudgetExceeded';
}

/**
 * Discovery and service calls.
 * {@link https://cds-hooks.hl7.org/2.0/#discovery} {@link https://cds-hooks.hl7.org/2.0/#calling-a-cds-service}
 * @param services - the validated service definitions.
 * @param deps - what answering a call needs.
 */
export function cdsServicesRouter(
  services: readonly ServiceDefinition[],
  deps: CdsServicesRouterDeps,
): Router {
  const router = Router();
  const byId = new Map(services.map((s) => [s.id, s]));
  const discovery = discoveryDocument(services);

  router.get('/cds-services', (_req: Request, res: Response) => {
    res.json(discovery);
  });

  router.post('/cds-services/:id', async (req: Request, res: Response) => {
    // The budget counts from the request's arrival (body reading and authentication included).
    const started = locals(res).receivedAt ?? Date.now();
    const service = byId.get(req.params.id as string);
    if (service === undefined) throw new NotFoundError('no CDS service with this id');
    const request = parsePatientViewRequest(req.body, service.hook);
    const log = locals(res).log.child({
      serviceId: service.id,
      hookInstance: request.hookInstance,
    });
    locals(res).log = log;
    // Stop fetching and evaluating if the client goes away or the budget runs out.
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    const budgetMs = deps.requestBudgetMs;
    const deadline = budgetMs === undefined ? undefined : started + budgetMs;
    let timer: NodeJS.Timeout | undefined;
    const overBudget = new Promise<'over-budget'>((resolve) => {
      if (budgetMs === undefined) return;
      timer = setTimeout(
        () => {
          aborter.abort(new BudgetExceeded());
          resolve('over-budget');
        },
        Math.max(0, started + budgetMs - Date.now()),
      );
    });
    const client = locals(res).client;
    const work = answerPatientView(service, request, deps, {
      signal: aborter.signal,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(client !== undefined ? { client } : {}),
    });
    // The work may settle after the budget answered: its outcome is then only logged.
    work.catch((error: unknown) => {
      if (aborter.signal.reason instanceof BudgetExceeded)
        log.debug({ error: errorForLog(error) }, 'work abandoned after the time budget');
    });
    const answerEmpty = (): void => {
      log.warn(
        { budgetMs, elapsedMs: Date.now() - started },
        'time budget exceeded: answered no cards',
      );
      res.json({ cards: [] });
    };
    try {
      const outcome = await Promise.race([work, overBudget]);
      // Past the deadline (an engine on this thread cannot be interrupted): no cards either.
      if (outcome === 'over-budget' || (deadline !== undefined && Date.now() > deadline)) {
        if (!aborter.signal.aborted) aborter.abort(new BudgetExceeded());
        answerEmpty();
        return;
      }
      log.info(outcome.summary, 'patient-view answered');
      res.json(outcome.response);
    } catch (error) {
      const overrun = deadline !== undefined && Date.now() >= deadline;
      // The pool may give up a moment before this thread's own clock says the deadline passed.
      if (
        aborter.signal.reason instanceof BudgetExceeded ||
        overrun ||
        error instanceof EngineDeadlineError
      ) {
        answerEmpty();
        return;
      }
      // Shedding load: an EHR treats an error like no advice anyway, and an error may be
      // counted against the service. Answer as the spec's "no guidance" and say so in the log.
      if (error instanceof EngineOverloadedError) {
        log.warn({ elapsedMs: Date.now() - started }, 'engine overloaded: answered no cards');
        res.json({ cards: [] });
        return;
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  });

  return router;
}
