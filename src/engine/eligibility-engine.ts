/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-class-instance-assignment --
   cql-execution's results are untyped: this facade is the one place that reads them. */
import { CodeService, DateTime, Library, PatientContext, Repository } from 'cql-execution';
import type { Criterion, Trial } from '../trials/trial.js';
import { decideTrialStatus } from '../trials/trial-status.js';
import type { ElmLibrarySet } from '../cql/elm-library-set.js';
import type { ValueSetExpansions } from '../cql/value-sets.js';
import { IndexedPatientSource } from '../cql/indexed-patient-source.js';
import { RetrieveScope } from '../cql/retrieve-scope.js';
import { DefinitionReads } from '../cql/definition-reads.js';
import { installNormalizedKeyCache } from './normalized-key-cache.js';
import { installFunctionMemo } from './function-memo.js';
import { CqlEvaluationError } from '../shared/errors.js';
import { EngineAbortedError, EngineDeadlineError } from './engine-errors.js';
import type { PatientBundle } from '../fhir/patient-bundle.js';
import type { FhirResource } from 'fhir/r4.js';
import type {
  CriterionResult,
  CriterionResultValue,
  PatientScreening,
  TrialResult,
} from './screening.js';

/** Per-call options of `EligibilityEngine.screen`. */
export interface ScreenOptions {
  /**
   * Abandons the evaluation when aborted. The worker pool abandons a queued or running evaluation
   * at once; the in-process engine checks between definitions only (an evaluation on the calling
   * thread never yields to timers), so use the pool where a deadline must hold.
   */
  readonly signal?: AbortSignal;
  /** Milliseconds from the call: past it the evaluation is abandoned. */
  readonly timeoutMs?: number;
  /** An absolute deadline (`Date.now()` clock); the earlier of this and `timeoutMs` wins. */
  readonly deadline?: number;
  /**
   * Only the trials' statuses are needed (the CDS service: cards are for trials the patient may
   * qualify for): each trial's gate criteria are evaluated first, and its evaluation stops at the
   * first criterion that rules out every cohort. Such a trial comes back `ineligible` with
   * `stoppedEarly` and only the criteria evaluated; every other trial is evaluated in full, so
   * its result is the same as without this option.
   */
  readonly stopAtIneligible?: boolean;
}

export interface EligibilityEngine {
  /** The trials this engine evaluates, in order. */
  readonly trials: readonly Trial[];
  /**
   * Whether a retrieve of the engine's libraries can return the resource (retrieve-scope.ts): a
   * caller may leave the others out of the record it hands over, with the same results.
   */
  readonly reads?: (resource: FhirResource) => boolean;
  /**
   * Evaluates every trial for one patient.
   * @param patient - the normalised record (see toPatientBundle).
   * @param asOf - the evaluation date, YYYY-MM-DD: the screening date the criteria count back from.
   * @param trialIds - only these trials (default: all), e.g. for a criterion test.
   * @param options - a deadline or an abort signal: past it the promise rejects with
   *   EngineDeadlineError (or EngineAbortedError), both 503 AppErrors (engine-errors.ts).
   */
  screen(
    patient: PatientBundle,
    asOf: string,
    trialIds?: readonly string[],
    options?: ScreenOptions,
  ): Promise<PatientScreening>;
}

interface CompiledTrial {
  readonly trial: Trial;
  readonly library: Library;
  /** The trial's criteria, gates first (the order of evaluation; results keep the trial's order). */
  readonly gatesFirst: readonly Criterion[];
}

/**
 * A patient context whose included libraries are shared by every trial library evaluated for the
 * same patient: `Labs`, `Medications`, `EligibilityCommon`... are evaluated once per patient, not
 * once per trial. cql-execution caches a definition's value in its library context; a library's
 * values depend only on the library, the patient, the evaluation date, the parameters (none) and
 * the terminology, which every trial shares, so sharing the context changes no result.
 */
class SharedLibraryPatientContext extends PatientContext {
  constructor(
    library: Library,
    patient: any,
    codeService: CodeService,
    executionDateTime: DateTime,
    private readonly shared: Map<string, SharedLibraryPatientContext>,
    /** Function results for this patient (function-memo.ts). */
    readonly functionMemo: Map<unknown, unknown>,
  ) {
    super(library, patient, codeService, {}, executionDateTime);
  }

  override getLibraryContext(alias: string): any {
    let context = this.library_context[alias];
    if (context == null) {
      const library = this.get(alias);
      const identifier = library.source.library.identifier as { id: string; version?: string };
      const key = `${identifier.id}|${identifier.version ?? ''}`;
      context = this.shared.get(key);
      if (context === undefined) {
        context = new SharedLibraryPatientContext(
          library as Library,
          this.patient,
          this.codeService as CodeService,
          this.executionDateTime as DateTime,
          this.shared,
          this.functionMemo,
        );
        this.shared.set(key, context);
      }
      this.library_context[alias] = context;
    }
    return context;
  }
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

/** A deep copy of the ELM without `localId` properties. */
function withoutLocalIds<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    key === 'localId' ? undefined : v,
  ) as T;
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
 * Builds the engine once at start-up: one cql-execution Library per trial, one
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
  installNormalizedKeyCache();
  installFunctionMemo();
  // Without ELM local ids, cql-execution does not record every expression's result for
  // annotation (the engine never reads those records); errors still name the CQL locator.
  const libraries = withoutLocalIds(elm.all());
  const repository = new Repository(libraries);
  const codeService = new CodeService(valueSets);
  const compiled: CompiledTrial[] = trials.map((trial) => {
    elm.get(trial.library.name); // throws ConfigurationError when the ELM is missing
    const library = new Library(libraries[trial.library.name] as any, repository);
    const gatesFirst = [
      ...trial.criteria.filter((c) => c.gate === true),
      ...trial.criteria.filter((c) => c.gate !== true),
    ];
    return { trial, library, gatesFirst };
  });
  const patientSource = new IndexedPatientSource();
  // Resources no retrieve can return are left out before indexing (retrieve-scope.ts).
  const scope = RetrieveScope.fromElm(elm, valueSets);
  const definitionReads = new DefinitionReads(elm);
  const queue = new SerialQueue();

  async function evaluate(
    patient: PatientBundle,
    asOf: string,
    trialIds: readonly string[] | undefined,
    checkpoint: () => void,
    stopAtIneligible: boolean,
  ): Promise<TrialResult[]> {
    checkpoint();
    // Noon UTC: the evaluation date is a calendar day, whatever the offset of the data.
    const executionDateTime = DateTime.parse(`${asOf}T12:00:00.000Z`);
    if (executionDateTime === null) throw new CqlEvaluationError(`invalid evaluation date ${asOf}`);
    const results: TrialResult[] = [];
    patientSource.load(scope.narrow(patient.bundle));
    const record = patientSource.currentPatient();
    // One set of included-library contexts for this patient, shared by every trial.
    const shared = new Map<string, SharedLibraryPatientContext>();
    const functionMemo = new Map<unknown, unknown>();
    for (const { trial, library, gatesFirst } of compiled) {
      if (trialIds !== undefined && !trialIds.includes(trial.id)) continue;
      const byCriterion = new Map<Criterion, CriterionResult>();
      // Cohorts not yet ruled out (a criterion without a cohort applies to all).
      const open = new Set(trial.cohorts.map((c) => c.id));
      let context: SharedLibraryPatientContext;
      try {
        context = new SharedLibraryPatientContext(
          library,
          record,
          codeService,
          executionDateTime,
          shared,
          functionMemo,
        );
      } catch (cause) {
        throw new CqlEvaluationError(`evaluation of ${trial.library.name} failed`, { cause });
      }
      // Most definitions answer without a promise (sync-expressions.ts): await only promises.
      const valueOf = (name: string): unknown => {
        checkpoint();
        return library.expressions[name].execute(context);
      };
      for (const criterion of gatesFirst) {
        if (stopAtIneligible && open.size === 0) break;
        let value: unknown;
        const evidence = new Set<string>();
        let failed = false;
        // Types the criterion reads that the record holds only in part: it is not evaluated.
        const partialRecord =
          criterion.define === undefined || patient.partial === undefined
            ? []
            : [...definitionReads.typesRead(trial.library.name, criterion.define)]
                .sort()
                .flatMap((type) => {
                  const reason = patient.partial?.[type];
                  return reason === undefined ? [] : [{ type, reason }];
                });
        if (partialRecord.length > 0) {
          value = null;
        } else if (criterion.define !== undefined) {
          // One criterion that cannot be evaluated (a value the CQL cannot take) is unknown, with
          // the reason flagged; the trial's other criteria and the other trials still answer.
          try {
            value = valueOf(criterion.define);
            if (value instanceof Promise) value = await value;
            if (criterion.evidence !== undefined) {
              let found = valueOf(criterion.evidence);
              if (found instanceof Promise) found = await found;
              collectEvidence(found, evidence);
            }
          } catch (cause) {
            if (cause instanceof EngineDeadlineError || cause instanceof EngineAbortedError)
              throw cause;
            value = null;
            evidence.clear();
            failed = true;
          }
        }
        const result =
          criterion.define === undefined
            ? 'manual'
            : toResultValue(value, trial.id, criterion.define);
        byCriterion.set(criterion, {
          id: criterion.id,
          ...(criterion.cohort !== undefined ? { cohort: criterion.cohort } : {}),
          kind: criterion.kind,
          text: criterion.text,
          result,
          evidence: [...evidence].sort(),
          ...(failed ? { evaluationError: true as const } : {}),
          ...(partialRecord.length > 0 ? { partialRecord } : {}),
        });
        if (result === 'fail') {
          if (criterion.cohort === undefined) open.clear();
          else open.delete(criterion.cohort);
        }
      }
      const criteria = trial.criteria.flatMap((c) => {
        const result = byCriterion.get(c);
        return result === undefined ? [] : [result];
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
        ...(criteria.length < trial.criteria.length ? { stoppedEarly: true as const } : {}),
        criteria,
      });
    }
    return results;
  }

  return {
    trials,
    reads: (resource) => scope.keeps(resource),
    screen: (patient, asOf, trialIds, options = {}) => {
      const deadlines = [
        ...(options.timeoutMs !== undefined ? [Date.now() + options.timeoutMs] : []),
        ...(options.deadline !== undefined ? [options.deadline] : []),
      ];
      const deadline = deadlines.length > 0 ? Math.min(...deadlines) : undefined;
      const checkpoint = (): void => {
        if (options.signal?.aborted === true)
          throw new EngineAbortedError('the evaluation was cancelled');
        if (deadline !== undefined && Date.now() > deadline)
          throw new EngineDeadlineError('the evaluation passed its deadline');
      };
      return queue.run(async () => ({
        patientId: patient.patientId,
        asOf,
        trials: await evaluate(
          patient,
          asOf,
          trialIds,
          checkpoint,
          options.stopAtIneligible === true,
        ),
      }));
    },
  };
}
