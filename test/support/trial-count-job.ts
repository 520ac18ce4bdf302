/**
 * A worker job defined outside the engine (engine/worker-job.ts), for the engine pool's tests: the
 * pool runs any registered job; this one answers with the ids of the trials its worker's engine has.
 */
import type { WorkerJob, WorkerJobModule } from '../../src/engine/worker-job.js';

export const workerJob: WorkerJob<{ readonly prefix: string }, string[]> = {
  run: (input, engine) =>
    Promise.resolve(engine.trials.map((trial) => `${input.prefix}${trial.id}`)),
};

export const TRIAL_IDS_JOB: WorkerJobModule = { name: 'test/trial-ids', url: import.meta.url };
