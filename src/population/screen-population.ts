/**
 * The population pipeline: pulls patients from an input, loads and screens up to `concurrency` at a
 * time (the engine decides where the CQL runs: in-process or on a worker pool), and hands each
 * outcome to `onResult` in input order as soon as it and everything before it is done.
 */
import type { EligibilityEngine } from '../engine/eligibility-engine.js';
import { toPatientBundle } from '../fhir/patient-bundle.js';
import { AppError, isServiceFault } from '../shared/errors.js';
import type { PopulationItem, PopulationResult } from './population-item.js';

export interface ScreenPopulationOptions {
  readonly items: AsyncIterable<PopulationItem>;
  readonly engine: EligibilityEngine;
  readonly asOf: string;
  /** Patients loaded or evaluated at once. */
  readonly concurrency: number;
  /** Stops pulling new patients; those already started are finished and reported. */
  readonly signal?: AbortSignal;
  readonly onResult: (result: PopulationResult) => void;
  readonly onExpect?: (count: number) => void;
}

export interface PopulationSummary {
  readonly screened: number;
  readonly failed: number;
  readonly interrupted: boolean;
}

/** A message for a patient's failure, never quoting patient data or internals. */
export function describeFailure(error: unknown): string {
  if (error instanceof AppError) return isServiceFault(error) ? 'evaluation failed' : error.message;
  if (error instanceof Error) return error.message;
  return 'failed';
}

async function screenOne(
  item: Extract<PopulationItem, { kind: 'record' }>,
  engine: EligibilityEngine,
  asOf: string,
  signal: AbortSignal,
): Promise<PopulationResult> {
  let patientId: string | undefined;
  try {
    // Only what the engine can read is normalised and handed over (retrieve-scope.ts).
    const patient = toPatientBundle(await item.load(signal), engine.reads);
    patientId = patient.patientId;
    const screening = await engine.screen(patient, asOf);
    return {
      kind: 'screened',
      patient: { source: item.source, patientId: screening.patientId, trials: screening.trials },
      ...(patient.foreign !== undefined ? { foreign: patient.foreign } : {}),
    };
  } catch (error) {
    return {
      kind: 'failure',
      source: item.source,
      ...(patientId !== undefined ? { patientId } : {}),
      message: describeFailure(error),
    };
  }
}

/**
 * Screens every patient the items yield.
 * @param options - input, engine, evaluation date, concurrency, cancellation and the result sink.
 */
export async function screenPopulation(
  options: ScreenPopulationOptions,
): Promise<PopulationSummary> {
  const { engine, asOf, onResult } = options;
  const signal = options.signal ?? new AbortController().signal;
  const done = new Map<number, PopulationResult>();
  const running = new Set<Promise<void>>();
  let next = 0;
  let emitted = 0;
  let screened = 0;
  let failed = 0;

  const emitReady = (): void => {
    for (let result = done.get(emitted); result !== undefined; result = done.get(emitted)) {
      done.delete(emitted);
      emitted++;
      if (result.kind === 'screened') screened++;
      else failed++;
      onResult(result);
    }
  };
  const settle = (index: number, result: PopulationResult): void => {
    done.set(index, result);
    emitReady();
  };

  const iterator = options.items[Symbol.asyncIterator]();
  try {
    const aborted = (): boolean => signal.aborted;
    while (!aborted()) {
      const step = await iterator.next();
      if (step.done === true || aborted()) break;
      const item = step.value;
      if (item.kind === 'expect') {
        options.onExpect?.(item.count);
        continue;
      }
      const index = next++;
      if (item.kind === 'failure') {
        settle(index, item);
        continue;
      }
      const task = screenOne(item, engine, asOf, signal).then((result) => {
        settle(index, result);
      });
      running.add(task);
      void task.finally(() => running.delete(task));
      while (running.size >= options.concurrency) await Promise.race(running);
    }
  } finally {
    await Promise.all(running);
    if (signal.aborted) await iterator.return?.();
  }
  return { screened, failed, interrupted: signal.aborted };
}
