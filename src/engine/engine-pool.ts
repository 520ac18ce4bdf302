/**
 * A pool of worker threads, each holding its own eligibility engine, so that CQL evaluation (which
 * never yields to the event loop) runs off the HTTP thread and on every core.
 *
 * API (stable: the service and the population screener use it):
 *
 * ```ts
 * const pool = await createEnginePool({ size: 2, cqlDir, siteCodes });  // resolves when every worker is ready
 * const screening = await pool.screen(patientBundle, '2025-06-01', undefined, { timeoutMs: 800, signal });
 * pool.stats();     // { size, ready, busy, queued, completed, failed, replaced }
 * await pool.close();
 * ```
 *
 * - `EnginePool` is an `EligibilityEngine`: the same `trials` and the same `PatientScreening` as the
 *   in-process engine (`loadEligibilityEngine`), so callers can take either.
 * - `screen` takes a normalised `PatientBundle` (`toPatientBundle`); its bundle crosses to the worker
 *   once, as a JSON string (callers leave out what `reads` says the engine cannot read; the
 *   worker's engine leaves it out anyway).
 * - Deadlines are enforced: an evaluation still queued at its deadline is dropped; one running past
 *   it is abandoned: the promise rejects with `EngineDeadlineError` at once, and the worker, which
 *   got the deadline with the job, stops at its next definition and takes the next job. Only a worker
 *   that has not come back `abandonGraceMs` later (one definition that runs on) is terminated and
 *   replaced (a fresh worker builds its engine in about a second of CPU: replacing workers on every
 *   missed deadline would spend an overloaded machine's cores on start-ups). An aborted `signal`
 *   rejects with `EngineAbortedError` and leaves the worker the same grace.
 * - The queue is bounded (`maxQueue`): past it `screen` rejects at once with `EngineOverloadedError`.
 * - A worker that crashes is replaced; its evaluation rejects with `CqlEvaluationError`.
 * - `close()` rejects what is queued, lets running evaluations finish, then stops the workers. The
 *   workers keep the process alive until then.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Trial } from '../domain/trial.js';
import type { PatientBundle } from '../fhir/patient-bundle.js';
import { ConfigurationError, CqlEvaluationError } from '../shared/errors.js';
import type { EligibilityEngine, ScreenOptions } from './eligibility-engine.js';
import {
  EngineAbortedError,
  EngineDeadlineError,
  EngineOverloadedError,
} from '../shared/errors.js';
import { loadEngineInputs, type EngineOptions } from './load-engine.js';
import { RetrieveScope } from '../cql/retrieve-scope.js';
import type { PatientScreening } from '../domain/screening.js';
import type {
  SerializedError,
  WorkerMessage,
  WorkerRequest,
  WorkerSetup,
} from './engine-worker.js';
import type { WorkerJobModule } from './worker-job.js';

export interface EnginePoolOptions extends EngineOptions {
  /** Worker threads (default: the available cores). */
  readonly size?: number;
  /** Evaluations waiting for a worker, at most (default: 64 per worker). */
  readonly maxQueue?: number;
  /** A deadline applied when `screen` is given none (default: none). */
  readonly defaultTimeoutMs?: number;
  /**
   * How long a worker whose evaluation was abandoned may take to come back before it is terminated
   * and replaced (default: 1,000 ms).
   */
  readonly abandonGraceMs?: number;
  /**
   * Jobs the workers run besides `screen` (worker-job.ts), registered by the layers above the
   * engine: each worker imports their modules at start-up.
   */
  readonly jobs?: readonly WorkerJobModule[];
}

/** `runJob`'s options: `screen`'s deadline and signal, and buffers of the input to move. */
export interface RunJobOptions extends ScreenOptions {
  /** Buffers of the input moved to the worker rather than copied (the caller loses them). */
  readonly transfer?: readonly ArrayBuffer[];
}

export interface EnginePoolStats {
  readonly size: number;
  /** Workers with a built engine. */
  readonly ready: number;
  /** Workers on a job, or still finishing one given up on. */
  readonly busy: number;
  readonly queued: number;
  readonly completed: number;
  readonly failed: number;
  /** Workers terminated (deadline, abort, crash) and replaced. */
  readonly replaced: number;
}

export interface EnginePool extends EligibilityEngine {
  readonly size: number;
  screen(
    patient: PatientBundle,
    asOf: string,
    trialIds?: readonly string[],
    options?: ScreenOptions,
  ): Promise<PatientScreening>;
  /**
   * Runs a job registered in `EnginePoolOptions.jobs` (worker-job.ts) on a worker: the same
   * queue, deadlines and errors as `screen`. The caller knows the job's output type.
   */
  runJob(name: string, input: unknown, options?: RunJobOptions): Promise<unknown>;
  stats(): EnginePoolStats;
  close(): Promise<void>;
}

export { EngineAbortedError, EngineDeadlineError, EngineOverloadedError };
export type { ScreenOptions };

/** What a task asks of a worker. */
type Job =
  | {
      readonly kind: 'screen';
      readonly patient: PatientBundle;
      readonly asOf: string;
      readonly trialIds: readonly string[] | undefined;
      readonly stopAtIneligible: boolean;
    }
  | {
      readonly kind: 'job';
      readonly name: string;
      readonly input: unknown;
      readonly transfer: readonly ArrayBuffer[];
    };

interface Task {
  readonly id: number;
  readonly job: Job;
  /** With the worker's answer: a PatientScreening for `screen`, the job's output for a job. */
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  /** Absolute (`Date.now()` clock); the worker gets it too. */
  deadline?: number | undefined;
  timer?: NodeJS.Timeout | undefined;
  signal?: AbortSignal;
  onAbort?: () => void;
  slot?: Slot | undefined;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Task | undefined;
  /** An abandoned job the worker is still on: its id, and the timer that terminates the worker. */
  abandoned?: { readonly id: number; readonly timer: NodeJS.Timeout } | undefined;
  /** Consecutive start failures, to stop respawning a worker that cannot start. */
  startFailures: number;
  broken: boolean;
}

const MAX_START_FAILURES = 3;

/**
 * The worker entry: compiled JS next to this module in dist/ (production). From src/ (tsx, jest)
 * the dev bootstrap scripts/dev/engine-worker-from-source.mjs, which registers tsx in the thread
 * and imports the TypeScript entry: production code never resolves tsx, and dist/ does not need
 * scripts/.
 */
function spawnWorker(options: EnginePoolOptions): Worker {
  const workerData: WorkerSetup = {
    engine: {
      ...(options.cqlDir !== undefined ? { cqlDir: options.cqlDir } : {}),
      ...(options.siteCodes !== undefined ? { siteCodes: options.siteCodes } : {}),
    },
    jobs: options.jobs ?? [],
  };
  const entry = import.meta.url.endsWith('.ts')
    ? new URL('../../scripts/dev/engine-worker-from-source.mjs', import.meta.url)
    : new URL('./engine-worker.js', import.meta.url);
  return new Worker(entry, { workerData });
}

/** Engine errors carry no patient data (see CqlEvaluationError); they come back as such. */
function toError(error: SerializedError): Error {
  if (error.name === 'EngineDeadlineError') return new EngineDeadlineError(error.message);
  return new CqlEvaluationError(error.message);
}

const DEFAULT_ABANDON_GRACE_MS = 1000;

/**
 * Starts the workers and waits until each has built its engine.
 * @param options - pool size, queue bound, default deadline, and the engine options.
 * @throws ConfigurationError when a worker cannot build its engine (bad ELM, trials, value sets).
 */
export async function createEnginePool(options: EnginePoolOptions = {}): Promise<EnginePool> {
  const size = Math.max(1, Math.floor(options.size ?? availableParallelism()));
  const maxQueue = options.maxQueue ?? 64 * size;
  const abandonGraceMs = options.abandonGraceMs ?? DEFAULT_ABANDON_GRACE_MS;
  // Which resources the engine reads (EligibilityEngine.reads), answered on this thread.
  const { elm, valueSets, rulesVersion } = loadEngineInputs(options);
  const scope = RetrieveScope.fromElm(elm, valueSets);
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 1;
  let closed = false;
  let completed = 0;
  let failed = 0;
  let replaced = 0;
  let trials: readonly Trial[] = [];
  const idle: (() => void)[] = [];

  function settle(task: Task): void {
    if (task.timer !== undefined) clearTimeout(task.timer);
    if (task.onAbort !== undefined) task.signal?.removeEventListener('abort', task.onAbort);
    task.slot = undefined;
  }

  /** On a job, or still finishing one given up on: not free for the next. */
  function isBusy(slot: Slot): boolean {
    return slot.task !== undefined || slot.abandoned !== undefined;
  }

  function notifyIdle(): void {
    if (slots.some(isBusy)) return;
    for (const resolve of idle.splice(0)) resolve();
  }

  function dispatch(): void {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || isBusy(slot)) continue;
      const task = queue.shift() as Task;
      slot.task = task;
      task.slot = slot;
      const job = task.job;
      const deadline = task.deadline !== undefined ? { deadline: task.deadline } : {};
      const message: WorkerRequest =
        job.kind === 'job'
          ? { kind: 'job', id: task.id, job: job.name, input: job.input, ...deadline }
          : {
              kind: 'screen',
              id: task.id,
              ...deadline,
              patientId: job.patient.patientId,
              bundleJson: JSON.stringify(job.patient.bundle),
              ...(job.patient.partial !== undefined ? { partial: job.patient.partial } : {}),
              asOf: job.asOf,
              ...(job.trialIds !== undefined ? { trialIds: job.trialIds } : {}),
              ...(job.stopAtIneligible ? { stopAtIneligible: true } : {}),
            };
      // A job's buffers are moved to the worker when its caller says so (runJob's `transfer`).
      slot.worker.postMessage(message, job.kind === 'job' ? [...job.transfer] : []);
    }
  }

  function onMessage(slot: Slot, message: WorkerMessage): void {
    if (message.type === 'ready') {
      slot.ready = true;
      slot.startFailures = 0;
      trials = message.trials;
      dispatch();
      return;
    }
    if (message.type === 'failed') {
      slot.startFailures++;
      void slot.worker.terminate();
      return;
    }
    if (slot.abandoned !== undefined && slot.abandoned.id === message.id) {
      // The worker is back from an abandoned job (its answer was given up on): it takes the next.
      clearTimeout(slot.abandoned.timer);
      slot.abandoned = undefined;
      dispatch();
      notifyIdle();
      return;
    }
    const task = slot.task;
    if (task === undefined || task.id !== message.id) return;
    slot.task = undefined;
    settle(task);
    if (message.type === 'result') {
      completed++;
      task.resolve(message.screening);
    } else if (message.type === 'output') {
      completed++;
      task.resolve(message.output);
    } else {
      failed++;
      task.reject(toError(message.error));
    }
    dispatch();
    notifyIdle();
  }

  function attach(slot: Slot): void {
    const worker = slot.worker;
    worker.on('message', (message: WorkerMessage) => {
      if (slot.worker === worker) onMessage(slot, message);
    });
    worker.on('error', () => {
      // The exit handler replaces the worker; the error itself may quote data: not kept.
    });
    worker.on('exit', () => {
      if (slot.worker !== worker) return;
      slot.ready = false;
      if (slot.abandoned !== undefined) {
        clearTimeout(slot.abandoned.timer);
        slot.abandoned = undefined;
      }
      const task = slot.task;
      if (task !== undefined) {
        slot.task = undefined;
        settle(task);
        failed++;
        task.reject(new CqlEvaluationError('the evaluation worker stopped'));
      }
      if (closed) {
        notifyIdle();
        return;
      }
      if (slot.startFailures >= MAX_START_FAILURES) {
        slot.broken = true;
        if (slots.every((s) => s.broken)) {
          for (const t of queue.splice(0)) {
            settle(t);
            t.reject(new CqlEvaluationError('no evaluation worker could start'));
          }
        }
        notifyIdle();
        return;
      }
      replaced++;
      slot.worker = spawnWorker(options);
      attach(slot);
      notifyIdle();
    });
  }

  /**
   * Abandons a task: dropped from the queue, or given up on while its worker finishes (it stops at
   * the deadline it got); a worker not back within the grace is terminated (and replaced).
   */
  function abandon(task: Task, error: Error): void {
    const slot = task.slot;
    if (slot !== undefined) {
      slot.task = undefined;
      settle(task);
      failed++;
      task.reject(error);
      const worker = slot.worker;
      const timer = setTimeout(() => {
        if (slot.worker !== worker || slot.abandoned?.id !== task.id) return;
        // The exit handler spawns a replacement.
        void worker.terminate();
        slot.ready = false;
      }, abandonGraceMs);
      timer.unref();
      slot.abandoned = { id: task.id, timer };
      return;
    }
    const index = queue.indexOf(task);
    if (index >= 0) queue.splice(index, 1);
    settle(task);
    failed++;
    task.reject(error);
  }

  // Start every worker and wait for its engine (or the first failure).
  await new Promise<void>((resolve, reject) => {
    let waiting = size;
    for (let i = 0; i < size; i++) {
      const slot: Slot = {
        worker: spawnWorker(options),
        ready: false,
        startFailures: 0,
        broken: false,
      };
      slots.push(slot);
      const first = slot.worker;
      const onFirst = (message: WorkerMessage): void => {
        if (message.type === 'ready') {
          first.off('message', onFirst);
          if (--waiting === 0) resolve();
        } else if (message.type === 'failed') {
          first.off('message', onFirst);
          closed = true;
          for (const s of slots) void s.worker.terminate();
          reject(new ConfigurationError(`the engine could not start: ${message.error.message}`));
        }
      };
      first.on('message', onFirst);
      attach(slot);
    }
  });

  /** Queues a job with its deadline and signal; settles with the worker's answer. */
  function enqueue(job: Job, screenOptions: ScreenOptions): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (closed) {
        reject(new EngineOverloadedError('the engine pool is closed'));
        return;
      }
      const { signal } = screenOptions;
      if (signal?.aborted === true) {
        reject(new EngineAbortedError('the evaluation was cancelled'));
        return;
      }
      if (queue.length >= maxQueue) {
        reject(new EngineOverloadedError('too many evaluations are waiting'));
        return;
      }
      const task: Task = { id: nextId++, job, resolve, reject };
      const timeoutMs = screenOptions.timeoutMs ?? options.defaultTimeoutMs;
      const deadlines = [
        ...(timeoutMs !== undefined ? [Date.now() + timeoutMs] : []),
        ...(screenOptions.deadline !== undefined ? [screenOptions.deadline] : []),
      ];
      if (deadlines.length > 0) {
        task.deadline = Math.min(...deadlines);
        const wait = Math.max(0, task.deadline - Date.now());
        task.timer = setTimeout(() => {
          abandon(task, new EngineDeadlineError('the evaluation passed its deadline'));
        }, wait);
        task.timer.unref();
      }
      if (signal !== undefined) {
        task.signal = signal;
        task.onAbort = () => {
          abandon(task, new EngineAbortedError('the evaluation was cancelled'));
        };
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      queue.push(task);
      dispatch();
    });
  }

  return {
    get trials() {
      return trials;
    },
    rulesVersion,
    size,
    reads: scope.reader(),
    screen(patient, asOf, trialIds, screenOptions = {}) {
      const job: Job = {
        kind: 'screen',
        patient,
        asOf,
        trialIds,
        stopAtIneligible: screenOptions.stopAtIneligible === true,
      };
      return enqueue(job, screenOptions) as Promise<PatientScreening>;
    },
    runJob(name, input, jobOptions = {}) {
      const { transfer = [], ...screenOptions } = jobOptions;
      return enqueue({ kind: 'job', name, input, transfer }, screenOptions);
    },
    stats() {
      return {
        size,
        ready: slots.filter((s) => s.ready).length,
        busy: slots.filter(isBusy).length,
        queued: queue.length,
        completed,
        failed,
        replaced,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const task of queue.splice(0)) {
        settle(task);
        task.reject(new EngineOverloadedError('the engine pool is closed'));
      }
      await new Promise<void>((resolve) => {
        idle.push(resolve);
        notifyIdle();
      });
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
