import { Router, type Request, type Response } from 'express';
import {
  answerPatientView,
  rememberIssuedCards,
  type PatientViewDeps,
  type PatientViewResult,
} from '../cds-hooks/patient-view.js';
import type { PrefetchedAnswer, PrefetchedCall } from '../cds-hooks/prefetched-call.js';
import { droppedResources } from '../cds-hooks/prefetch.js';
import type { PatientViewRequest } from '../cds-hooks/request.js';
import { parseJsonBody } from './json-body.js';
import { NotFoundError } from '../shared/errors.js';
import { parsePatientViewRequest } from '../cds-hooks/request.js';
import { discoveryDocument, type ServiceDefinition } from '../cds-hooks/service-definition.js';
import { EngineDeadlineError, EngineOverloadedError } from '../shared/errors.js';
import { cardExtension } from '../cards/render-cards.js';
import { errorForLog } from './error-handler.js';
import { locals } from './request-context.js';

/** Answers calls from their raw body off the HTTP thread: the engine pool (engine-pool.ts). */
export interface PrefetchedCallRunner {
  answerPrefetched(
    call: PrefetchedCall,
    options: { readonly signal?: AbortSignal; readonly deadline?: number },
  ): Promise<PrefetchedAnswer>;
}

export interface CdsServicesRouterDeps extends PatientViewDeps {
  /**
   * When present, a call's body is read as bytes and first offered to this runner, which answers
   * calls whose prefetch is complete without the HTTP thread parsing them; any other call comes
   * back and is answered here as usual.
   */
  readonly prefetchedCalls?: PrefetchedCallRunner;
  /**
   * Per hook call (REQUEST_BUDGET_MS): past it the answer is `{"cards": []}`, FHIR reads are
   * cancelled and the evaluation abandoned. Absent: no budget.
   */
  readonly requestBudgetMs?: number;
  /**
   * Called once per hook call answered 200, with how (issue 15): `cards` (the evaluation's
   * answer, cards or none), `budget-exceeded` (no cards: the time budget ran out) or `overloaded`
   * (no cards: the engine shed the call). For a metric; the same outcome is on the log line.
   */
  readonly onHookAnswered?: (event: HookAnswered) => void;
}

/** How a hook call was answered; the `budget-exceeded` and `overloaded` answers carry no cards. */
export type HookCallOutcome = 'cards' | 'budget-exceeded' | 'overloaded';

export interface HookAnswered {
  readonly serviceId: string;
  readonly outcome: HookCallOutcome;
  readonly elapsedMs: number;
  /** The cards answered (outcome `cards`): each one's trial and screening status. */
  readonly cards?: readonly { readonly trial: string; readonly status: string }[];
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
    // Answers and errors of a hook call are about a patient: no cache may keep them (issue 15).
    res.setHeader('Cache-Control', 'no-store');
    const service = byId.get(req.params.id as string);
    if (service === undefined) throw new NotFoundError('no CDS service with this id');
    const raw = Buffer.isBuffer(req.body) ? req.body : undefined;
    const runner = deps.prefetchedCalls;
    // A call read as bytes is parsed on a worker first (below); any other is parsed now.
    let request =
      raw === undefined || runner === undefined
        ? parsePatientViewRequest(req.body, service.hook)
        : undefined;
    let log = locals(res).log.child({ serviceId: service.id });
    locals(res).log = log;
    const named = (hookInstance: string): void => {
      log = log.child({ hookInstance });
      locals(res).log = log;
    };
    if (request !== undefined) named(request.hookInstance);
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
    const scope = {
      signal: aborter.signal,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(client !== undefined ? { client } : {}),
    };
    // Where the call was parsed and answered, for the log: on a worker straight from its bytes,
    // or on this thread (no runner, or the worker handed the call back).
    let answeredBy: 'worker' | 'http-thread' = 'http-thread';
    const answer = async (): Promise<PatientViewResult> => {
      if (request === undefined && raw !== undefined && runner !== undefined) {
        const fast = await runner.answerPrefetched(
          {
            service,
            body: raw,
            asOf: deps.today(),
            ...(deps.maxResources !== undefined ? { maxResources: deps.maxResources } : {}),
            ...(deps.cardOptions !== undefined ? { cardOptions: deps.cardOptions } : {}),
          },
          scope,
        );
        if (fast.kind === 'answered') {
          answeredBy = 'worker';
          named(fast.hookInstance);
          // Cards that arrive past the deadline are never sent, so never remembered either.
          if (deadline !== undefined && Date.now() > deadline)
            throw new EngineDeadlineError('the call passed its deadline');
          await rememberIssuedCards(deps, service, fast.hookInstance, fast.result.response.cards);
          return fast.result;
        }
        // The body came back with the call (it was moved to the worker, not copied).
        request = parsePatientViewRequest(parseJsonBody(fast.body), service.hook);
        named(request.hookInstance);
      }
      return answerPatientView(service, request as PatientViewRequest, deps, scope);
    };
    const work = answer();
    // The work may settle after the budget answered: its outcome is then only logged.
    work.catch((error: unknown) => {
      if (aborter.signal.reason instanceof BudgetExceeded)
        log.debug({ error: errorForLog(error) }, 'work abandoned after the time budget');
    });
    const answered = (outcome: HookCallOutcome, cards?: HookAnswered['cards']): number => {
      const elapsedMs = Date.now() - started;
      locals(res).hookOutcome = outcome;
      deps.onHookAnswered?.({
        serviceId: service.id,
        outcome,
        elapsedMs,
        ...(cards !== undefined ? { cards } : {}),
      });
      return elapsedMs;
    };
    const answerEmpty = (): void => {
      const elapsedMs = answered('budget-exceeded');
      log.warn(
        { outcome: 'budget-exceeded', budgetMs, elapsedMs },
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
      const elapsedMs = answered(
        'cards',
        outcome.response.cards.flatMap((card) => {
          const extension = cardExtension(card);
          return extension === undefined ? [] : [extension];
        }),
      );
      log.info(
        { ...outcome.summary, answeredBy, outcome: 'cards', elapsedMs },
        'patient-view answered',
      );
      const dropped = droppedResources(outcome.summary.prefetch);
      if (dropped !== undefined)
        log.warn(
          dropped,
          "resources left out of the record: another patient's, or of a type the prefetch key cannot hold",
        );
      if (outcome.summary.partial !== undefined)
        log.warn(
          { partial: outcome.summary.partial },
          'the record was read only in part: criteria reading these types answered unknown',
        );
      if (outcome.summary.evaluationErrors > 0)
        log.warn(
          { evaluationErrors: outcome.summary.evaluationErrors },
          'criteria could not be evaluated on this record: answered unknown',
        );
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
        const elapsedMs = answered('overloaded');
        log.warn({ outcome: 'overloaded', elapsedMs }, 'engine overloaded: answered no cards');
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
