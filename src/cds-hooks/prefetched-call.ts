/**
 * A patient-view call answered where the engine runs (an evaluation worker), straight from the
 * request bytes: parsing the body, validating it, building the record and rendering the cards all
 * happen off the HTTP thread, which then only moves bytes. It covers the common case, a valid call
 * whose prefetch holds everything (as EHRs send it). Anything else (a body that is not valid JSON,
 * an invalid request, a prefetch key that must be fetched from the FHIR server, an evaluation
 * error) is handed back as `fallback`, and the HTTP thread answers the call the usual way, with
 * the same errors and the same FHIR reads as if this path did not exist.
 */
import { randomUUID } from 'node:crypto';
import type { CardOptions } from '../cards/render-cards.js';
import type { EnginePool } from '../engine/engine-pool.js';
import type { WorkerJob, WorkerJobModule } from '../engine/worker-job.js';
import type {
  FhirQuery,
  FhirResourceJson,
  PatientDataSource,
} from '../fhir/patient-data-source.js';
import { EngineDeadlineError } from '../shared/errors.js';
import { answerPatientView, type PatientViewResult, type ScreeningEngine } from './patient-view.js';
import { parsePatientViewRequest } from './request.js';
import type { ServiceDefinition } from './service-definition.js';

/** A call as the HTTP thread hands it over: the raw body and what answering needs. */
export interface PrefetchedCall {
  readonly service: ServiceDefinition;
  /** The request body as received (JSON, UTF-8). */
  readonly body: Uint8Array;
  /** The screening date, YYYY-MM-DD. */
  readonly asOf: string;
  readonly maxResources?: number;
  readonly cardOptions?: CardOptions;
}

export type PrefetchedAnswer =
  | {
      readonly kind: 'answered';
      readonly hookInstance: string;
      readonly result: PatientViewResult;
    }
  | {
      readonly kind: 'fallback';
      /** The request body, handed back (it may have been moved to the worker, not copied). */
      readonly body: Uint8Array;
    };

/** Refuses every read: a call that needs one goes back to the HTTP thread. */
class PrefetchOnly implements PatientDataSource {
  asked = false;
  fetch(_query: FhirQuery): Promise<FhirResourceJson> {
    this.asked = true;
    return Promise.reject(new Error('this path does not read from FHIR servers'));
  }
}

/** A JSON body as express.json() decodes it: UTF-8 (invalid bytes replaced), a leading BOM dropped. */
export function decodeJsonBody(body: Uint8Array): string {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Answers a call whose prefetch is complete, or says `fallback`.
 * @param call - the request bytes, the service and the options.
 * @param engine - the engine of this thread.
 * @param scope - a deadline (`Date.now()` clock) past which the evaluation stops.
 * @throws EngineDeadlineError past the deadline (the call is over: nothing to hand back).
 */
export async function answerPrefetchedCall(
  call: PrefetchedCall,
  engine: ScreeningEngine,
  scope: { readonly deadline?: number } = {},
): Promise<PrefetchedAnswer> {
  const dataSource = new PrefetchOnly();
  try {
    const request = parsePatientViewRequest(
      JSON.parse(decodeJsonBody(call.body)) as unknown,
      call.service.hook,
    );
    const result = await answerPatientView(
      call.service,
      request,
      {
        engine,
        dataSource,
        newId: randomUUID,
        today: () => call.asOf,
        ...(call.maxResources !== undefined ? { maxResources: call.maxResources } : {}),
        ...(call.cardOptions !== undefined ? { cardOptions: call.cardOptions } : {}),
      },
      scope,
    );
    if (dataSource.asked) return { kind: 'fallback', body: call.body };
    return { kind: 'answered', hookInstance: request.hookInstance, result };
  } catch (error) {
    if (error instanceof EngineDeadlineError) throw error;
    // The HTTP thread redoes the call and reports its error exactly as it always does.
    return { kind: 'fallback', body: call.body };
  }
}

/**
 * What to move rather than copy when a body crosses between threads: its memory, when the bytes
 * own all of it (a body read from a socket is a buffer of its own; a view into a shared pool is
 * copied). Moving a 500 KB body instead of cloning it spares both threads an allocation per call.
 * @param body - request bytes.
 */
export function transferableBody(body: Uint8Array): ArrayBuffer[] {
  const buffer = body.buffer;
  return buffer instanceof ArrayBuffer &&
    body.byteOffset === 0 &&
    body.byteLength === buffer.byteLength &&
    body.byteLength > 0
    ? [buffer]
    : [];
}

/**
 * The prefetched call as a job of the engine pool's workers (engine/worker-job.ts): each worker
 * imports this module and answers calls with its engine; a fallback moves the body back.
 */
export const workerJob: WorkerJob<PrefetchedCall, PrefetchedAnswer> = {
  run: (call, engine, scope) => answerPrefetchedCall(call, engine, scope),
  transferOutput: (answer) => (answer.kind === 'fallback' ? transferableBody(answer.body) : []),
};

/** The job to register with the pool: `createEnginePool({ jobs: [PREFETCHED_CALL_JOB] })`. */
export const PREFETCHED_CALL_JOB: WorkerJobModule = {
  name: 'cds-hooks/prefetched-call',
  url: import.meta.url,
};

/**
 * Answers calls on the workers of a pool that has PREFETCHED_CALL_JOB: the call's body is moved
 * to the worker (the HTTP thread no longer needs it; a fallback answer moves it back).
 * @param pool - the engine pool.
 */
export function prefetchedCallsOn(pool: Pick<EnginePool, 'runJob'>): {
  answerPrefetched(
    call: PrefetchedCall,
    options?: { readonly signal?: AbortSignal; readonly deadline?: number },
  ): Promise<PrefetchedAnswer>;
} {
  return {
    answerPrefetched: (call, options = {}) =>
      pool.runJob(PREFETCHED_CALL_JOB.name, call, {
        ...options,
        transfer: transferableBody(call.body),
      }) as Promise<PrefetchedAnswer>,
  };
}
