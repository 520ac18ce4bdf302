/**
 * The worker side of the engine pool (engine-pool.ts): builds the eligibility engine once, then
 * handles one message at a time: a `screen` message carries a normalised bundle as a JSON string
 * (parsed here, off the HTTP thread) and is answered with the PatientScreening or a message-only
 * error; a `job` message names a job registered with the pool (worker-job.ts: e.g. CDS Hooks'
 * prefetched patient-view call) and is answered with its output.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Bundle } from 'fhir/r4.js';
import * as cqlRuntime from '../cql-runtime/install.js';
import { loadEligibilityEngine, type EngineOptions } from './load-engine.js';
import type { PatientScreening } from '../domain/screening.js';
import type { PartialTypes } from '../fhir/partial-record.js';
import type { Trial } from '../domain/trial.js';
import type { WorkerJob, WorkerJobModule } from './worker-job.js';

/** What the pool gives each worker: the engine's options and the jobs to load. */
export interface WorkerSetup {
  readonly engine: EngineOptions;
  readonly jobs: readonly WorkerJobModule[];
}

/** Main thread -> worker: screen a normalised record. */
export interface ScreenRequestMessage {
  readonly kind: 'screen';
  readonly id: number;
  readonly patientId: string;
  /** JSON of the normalised collection Bundle (PatientBundle.bundle). */
  readonly bundleJson: string;
  /** PatientBundle.partial: the types read only in part. */
  readonly partial?: PartialTypes;
  readonly asOf: string;
  readonly trialIds?: readonly string[];
  /** ScreenOptions.stopAtIneligible. */
  readonly stopAtIneligible?: boolean;
  /** Past it (`Date.now()` clock) the evaluation stops at its next definition. */
  readonly deadline?: number;
}

/** Main thread -> worker: run a registered job (worker-job.ts) on its input. */
export interface JobRequestMessage {
  readonly kind: 'job';
  readonly id: number;
  readonly job: string;
  readonly input: unknown;
  /** Past it (`Date.now()` clock) the evaluation stops at its next definition. */
  readonly deadline?: number;
}

export type WorkerRequest = ScreenRequestMessage | JobRequestMessage;

/** Worker -> main thread. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly trials: readonly Trial[] }
  | { readonly type: 'failed'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly screening: PatientScreening }
  | { readonly type: 'output'; readonly id: number; readonly output: unknown }
  | {
      readonly type: 'error';
      readonly id: number;
      readonly error: SerializedError;
    };

/** An error as it crosses the thread boundary: no cause, no patient data (engine messages have none). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
}

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: 'evaluation failed' };
}

const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');
try {
  // The cql-execution overrides are per thread: this worker's entry installs them.
  cqlRuntime.install();
  const setup = workerData as WorkerSetup;
  const engine = loadEligibilityEngine(setup.engine);
  const jobs = new Map<string, WorkerJob<unknown, unknown>>();
  for (const { name, url } of setup.jobs) {
    const loaded = (await import(url)) as { workerJob?: WorkerJob<unknown, unknown> };
    if (loaded.workerJob === undefined) throw new Error(`job ${name}: ${url} exports no workerJob`);
    jobs.set(name, loaded.workerJob);
  }
  port.on('message', (message: WorkerRequest) => {
    const deadline = message.deadline !== undefined ? { deadline: message.deadline } : {};
    if (message.kind === 'job') {
      const job = jobs.get(message.job);
      if (job === undefined) {
        const error = { name: 'Error', message: `no job named ${message.job}` };
        port.postMessage({ type: 'error', id: message.id, error });
        return;
      }
      job.run(message.input, engine, deadline).then(
        (output) => {
          port.postMessage(
            { type: 'output', id: message.id, output },
            job.transferOutput?.(output) ?? [],
          );
        },
        (error: unknown) => {
          port.postMessage({ type: 'error', id: message.id, error: serialize(error) });
        },
      );
      return;
    }
    let bundle: Bundle;
    try {
      bundle = JSON.parse(message.bundleJson) as Bundle;
    } catch (error) {
      port.postMessage({ type: 'error', id: message.id, error: serialize(error) });
      return;
    }
    engine
      .screen(
        {
          patientId: message.patientId,
          bundle,
          notes: [],
          ...(message.partial !== undefined ? { partial: message.partial } : {}),
        },
        message.asOf,
        message.trialIds,
        {
          ...(message.stopAtIneligible === true ? { stopAtIneligible: true } : {}),
          ...deadline,
        },
      )
      .then(
        (screening) => {
          port.postMessage({ type: 'result', id: message.id, screening });
        },
        (error: unknown) => {
          port.postMessage({ type: 'error', id: message.id, error: serialize(error) });
        },
      );
  });
  port.postMessage({ type: 'ready', trials: engine.trials });
} catch (error) {
  port.postMessage({ type: 'failed', error: serialize(error) });
}
