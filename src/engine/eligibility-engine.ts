/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access --
   cql-execution's results are untyped: this facade is the one place that reads them. */
import { CodeService, DateTime, Executor, Library, Repository } from 'cql-execution';
import type { Trial } from '../trials/trial.js';
import { decideTrialStatus } from '../trials/trial-status.js';
import type { ElmLibrarySet } from '../cql/elm-library-set.js';
import type { ValueSetExpansions } from '../cql/value-sets.js';
import { IndexedPatientSource } from '../cql/indexed-patient-source.js';
import { CqlEvaluationError } from '../shared/errors.js';
import type { PatientBundle } from '../fhir/patient-bundle.js';
import type {
  CriterionResult,
  CriterionResultValue,
  PatientScreening,
  TrialResult,
} from './screening.js';

export interface EligibilityEngine {
  /** The trials this engine evaluates, in order. */
  readonly trials: readonly Trial[];
  /**
   * Evaluates every trial for one patient.
   * @param patient - the normalised record (see toPatientBundle).
   * @param asOf - the evaluation date, YYYY-MM-DD: the screening date the criteria count back from.
   * @param trialIds - only these trials (default: all), e.g. for a criterion test.
   */
  screen(
    patient: PatientBundle,
    asOf: string,
    trialIds?: readonly string[],
  ): Promise<PatientScreening>;
}

interface CompiledTrial {
  readonly trial: Trial;
  readonly executor: Executor;
}

/** Collects `Type/id` references from CQL results: resources, reference strings, lists and tuples. */
function collectEvidence(value: unknown, into: Set<string>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') {
    if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(value)) into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectEvidence(item, into);
    return;
  }
  if (typeof value === 'object') {
    const json = (value as any)._json;
    if (json !== undefined) {
      if (typeof json.resourceType === 'string' && typeof json.id === 'string')
        into.add(`${json.resourceType}/${json.id}`);
      return;
    }
    if ((value as any).isDateTime === true || (value as any).isQuantity === true) return;
    for (const child of Object.values(value)) collectEvidence(child, into);
  }
}

function toResultValue(value: unknown, trialId: string, define: string): CriterionResultValue {
  if (value === true) return 'pass';
  if (value === false) return 'fail';
  if (value === null || value === undefined) return 'unknown';
  throw new CqlEvaluationError(`${trialId}: "${define}" is not a Boolean`);
}

/** A promise chain: evaluations share one PatientSource, so they run one at a time. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * Builds the engine once at start-up: one cql-execution Library and Executor per trial, one
 * cql-exec-fhir PatientSource (its FHIR model info is parsed once), one CodeService.
 * @param trials - the trial definitions.
 * @param elm - the translated CQL libraries.
 * @param valueSets - the value set expansions.
 */
export function createEligibilityEngine(
  trials: readonly Trial[],
  elm: ElmLibrarySet,
  valueSets: ValueSetExpansions,
): EligibilityEngine {
  const repository = new Repository(elm.all());
  const codeService = new CodeService(valueSets);
  const compiled: CompiledTrial[] = trials.map((trial) => {
    const library = new Library(elm.get(trial.library.name), repository);
    return { trial, executor: new Executor(library, codeService) };
  });
  const patientSource = new IndexedPatientSource();
  const queue = new SerialQueue();

  async function evaluate(
    patient: PatientBundle,
    asOf: string,
    trialIds?: readonly string[],
  ): Promise<TrialResult[]> {
    // Noon UTC: the evaluation date is a calendar day, whatever the offset of the data.
    const executionDateTime = DateTime.parse(`${asOf}T12:00:00.000Z`);
    if (executionDateTime === null) throw new CqlEvaluationError(`invalid evaluation date ${asOf}`);
    const results: TrialResult[] = [];
    patientSource.load(patient.bundle);
    for (const { trial, executor } of compiled) {
      if (trialIds !== undefined && !trialIds.includes(trial.id)) continue;
      let values: Record<string, unknown>;
      try {
        const run = await executor.exec(patientSource.rewind(), executionDateTime);
        values = (run.patientResults[patient.patientId] ?? {}) as Record<string, unknown>;
      } catch (cause) {
        throw new CqlEvaluationError(`evaluation of ${trial.library.name} failed`, { cause });
      }
      const criteria: CriterionResult[] = trial.criteria.map((criterion) => {
        const evidence = new Set<string>();
        const result =
          criterion.define === undefined
            ? 'manual'
            : toResultValue(values[criterion.define], trial.id, criterion.define);
        if (criterion.evidence !== undefined && result !== 'manual')
          collectEvidence(values[criterion.evidence], evidence);
        return {
          id: criterion.id,
          ...(criterion.cohort !== undefined ? { cohort: criterion.cohort } : {}),
          kind: criterion.kind,
          text: criterion.text,
          result,
          evidence: [...evidence].sort(),
        };
      });
      const decision = decideTrialStatus(trial, criteria);
      results.push({
        id: trial.id,
        title: trial.title,
        status: decision.status,
        ...(trial.cohorts.length > 1
          ? {
              cohorts: decision.cohorts
                .filter((c) => c.status !== 'ineligible')
                .map((c) => c.cohort),
            }
          : {}),
        criteria,
      });
    }
    return results;
  }

  return {
    trials,
    screen: (patient, asOf, trialIds) =>
      queue.run(async () => ({
        patientId: patient.patientId,
        asOf,
        trials: await evaluate(patient, asOf, trialIds),
      })),
  };
}
