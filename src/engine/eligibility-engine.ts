import { CodeService, DateTime, Library, PatientContext, Repository } from 'cql-execution';
import type { PatientObject, TerminologyProvider } from 'cql-execution';
import type { Criterion, Trial } from '../domain/trial.js';
import { decideTrialStatus } from '../trials/trial-status.js';
import type { ElmLibrarySet } from '../cql/elm-library-set.js';
import type { ValueSetExpansions } from '../cql/value-sets.js';
import { IndexedPatientSource } from '../cql-runtime/patient-source.js';
import { RetrieveScope } from '../cql/retrieve-scope.js';
import * as cqlRuntime from '../cql-runtime/install.js';
import { DefinitionReads } from '../cql/definition-reads.js';
import { CqlEvaluationError } from '../shared/errors.js';
import { EngineAbortedError, EngineDeadlineError } from '../shared/errors.js';
import { readCriterion } from './criterion-reading.js';
import type { PatientBundle, ResourceReads } from '../fhir/patient-bundle.js';
import type { CriterionResult, PatientScreening, TrialResult } from '../domain/screening.js';

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
  /** The digest of the rules it evaluates (load-engine.ts rulesVersion), when known. */
  readonly rulesVersion?: string;
  /**
   * Whether a retrieve of the engine's libraries can return the resource (retrieve-scope.ts): a
   * caller may leave the others out of the record it hands over, with the same results. Its
   * `types` are the resource types the retrieves name: record readers read those (issue 16).
   */
  readonly reads?: ResourceReads;
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

/** A definition of a cql-execution Library (its `expressions`, typed `any` by the library). */
interface CqlExpression {
  execute(context: PatientContext): unknown;
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
    patient: PatientObject,
    codeService: TerminologyProvider,
    executionDateTime: DateTime,
    private readonly shared: Map<string, SharedLibraryPatientContext>,
    /** Function results for this patient (cql-runtime/function-memo.ts). */
    readonly functionMemo: Map<unknown, unknown>,
  ) {
    super(library, patient, codeService, {}, executionDateTime);
  }

  override getLibraryContext(alias: string): SharedLibraryPatientContext {
    // cql-execution types its library contexts and included libraries `any`: these are its own.
    const contexts = this.library_context as Record<
      string,
      SharedLibraryPatientContext | undefined
    >;
    let context = contexts[alias];
    if (context == null) {
      const library = this.get(alias) as Library;
      const source = library.source as {
        library: { identifier: { id: string; version?: string } };
      };
      const identifier = source.library.identifier;
      const key = `${identifier.id}|${identifier.version ?? ''}`;
      context = this.shared.get(key);
      if (context === undefined) {
        context = new SharedLibraryPatientContext(
          library,
          this.patient as PatientObject,
          this.codeService,
          this.executionDateTime as DateTime,
          this.shared,
          this.functionMemo,
        );
        this.shared.set(key, context);
      }
      contexts[alias] = context;
    }
    return context;
  }
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
  rulesVersion?: string,
): EligibilityEngine {
  // The process entries install the runtime first; this call (idempotent) is for library users.
  cqlRuntime.install();
  // Without ELM local ids, cql-execution does not record every expression's result for
  // annotation (the engine never reads those records); errors still name the CQL locator.
  const libraries = withoutLocalIds(elm.all());
  const repository = new Repository(libraries);
  const codeService = new CodeService(valueSets);
  const compiled: CompiledTrial[] = trials.map((trial) => {
    elm.get(trial.library.name); // throws ConfigurationError when the ELM is missing
    const library = new Library(libraries[trial.library.name], repository);
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
      // Most definitions answer without a promise (cql-runtime/expressions.ts): await only promises.
      const valueOf = (name: string): unknown => {
        checkpoint();
        const expressions = library.expressions as Record<string, CqlExpression>;
        const expression = expressions[name];
        if (expression === undefined)
          throw new CqlEvaluationError(`${trial.library.name} has no definition "${name}"`);
        return expression.execute(context);
      };
      for (const criterion of gatesFirst) {
        if (stopAtIneligible && open.size === 0) break;
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
        const read: CriterionResult =
          partialRecord.length > 0
            ? {
                id: criterion.id,
                ...(criterion.cohort !== undefined ? { cohort: criterion.cohort } : {}),
                kind: criterion.kind,
                text: criterion.text,
                result: 'unknown',
                evidence: [],
                partialRecord,
              }
            : await readCriterion(criterion, trial.id, valueOf);
        byCriterion.set(criterion, read);
        const result = read.result;
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
    ...(rulesVersion !== undefined ? { rulesVersion } : {}),
    reads: scope.reader(),
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
