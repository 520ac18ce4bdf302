/**
 * The worker side of the engine pool (engine-pool.ts): builds the eligibility engine once, then
 * handles one message at a time: a `screen` message carries a normalised bundle as a JSON string
 * (parsed here, off the HTTP thread) and is answered with the PatientScreening or a message-only
 * error; a `call` message carries a patient-view call's raw body and is answered with the
 * PrefetchedAnswer (prefetched-call.ts: the cards, or `fallback` for the HTTP thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Bundle } from 'fhir/r4.js';
import * as cqlRuntime from '../cql-runtime/install.js';
import { loadEligibilityEngine, type EngineOptions } from './load-engine.js';
import type { PatientScreening } from '../domain/screening.js';
import type { PartialTypes } from '../fhir/partial-record.js';
import type { Trial } from '../domain/trial.js';
import {
  answerPrefetchedCall,
  transferableBody,
  type PrefetchedAnswer,
  type PrefetchedCall,
} from '../cds-hooks/prefetched-call.js';

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

/** Main thread -> worker: answer a patient-view call from its raw body (prefetched-call.ts). */
export interface CallRequestMessage {
  readonly kind: 'call';
  readonly id: number;
  readonly call: PrefetchedCall;
  /** Past it (`Date.now()` clock) the evaluation stops at its next definition. */
  readonly deadline?: number;
}

export type WorkerRequest = ScreenRequestMessage | CallRequestMessage;

/** Worker -> main thread. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly trials: readonly Trial[] }
  | { readonly type: 'failed'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly screening: PatientScreening }
  | { readonly type: 'answer'; readonly id: number; readonly answer: PrefetchedAnswer }
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
  const engine = loadEligibilityEngine(workerData as EngineOptions);
  port.on('message', (message: WorkerRequest) => {
    const deadline = message.deadline !== undefined ? { deadline: message.deadline } : {};
    if (message.kind === 'call') {
      answerPrefetchedCall(message.call, engine, deadline).then(
        (answer) => {
          port.postMessage(
            { type: 'answer', id: message.id, answer },
            answer.kind === 'fallback' ? transferableBody(answer.body) : [],
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
