/**
 * Jobs the engine pool's workers run besides `screen` (issue 16 item 4): the pool is generic over
 * them, and a higher layer registers its own (CDS Hooks registers the prefetched patient-view call,
 * cds-hooks/prefetched-call.ts); the engine never imports them.
 *
 * A job is defined in a module that exports it as `workerJob`; the pool is given the module's URL
 * (`EnginePoolOptions.jobs`) and every worker imports it once, at start-up, next to its engine.
 */
import type { EligibilityEngine } from './eligibility-engine.js';

/** What a worker does with a job's input, on its engine. */
export interface WorkerJob<Input, Output> {
  /**
   * @param input - as posted by `EnginePool.runJob` (structured clone; moved buffers included).
   * @param engine - the worker's engine.
   * @param scope - a deadline (`Date.now()` clock) past which the evaluation stops.
   */
  run(
    input: Input,
    engine: EligibilityEngine,
    scope: { readonly deadline?: number },
  ): Promise<Output>;
  /** Buffers of the output to move back to the caller rather than copy (default: none). */
  transferOutput?(output: Output): ArrayBuffer[];
}

/** A job as the pool is told of it: its name, and the URL of the module exporting `workerJob`. */
export interface WorkerJobModule {
  readonly name: string;
  /** A `file:` URL; from src/ it may name the `.js` of a `.ts` module (tsx resolves it). */
  readonly url: string;
}
