/**
 * How a criterion's raw CQL results become its result: the definition's value (true, false, null)
 * as pass / fail / unknown, `manual` without a definition, and the evidence references collected
 * from the evidence definition's value. The engine reads every criterion through `readCriterion`,
 * and so does the differential oracle (test/support/oracle/) on the unpatched library's values:
 * what the oracle compares is the CQL output, read the same way on both sides.
 *
 * This module must not import the cql-execution patches (src/cql-runtime/): the oracle loads it in a
 * process that never installs them.
 */
import type { Criterion } from '../domain/trial.js';
import { CqlEvaluationError } from '../shared/errors.js';
import { EngineAbortedError, EngineDeadlineError } from '../shared/errors.js';
import type { CriterionResult, CriterionResultValue } from '../domain/screening.js';

/** Collects `Type/id` references from CQL results: resources, reference strings, lists and tuples. */
export function collectEvidence(value: unknown, into: Set<string>): void {
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
    // A cql-exec-fhir wrapper holds its resource's JSON in `_json`.
    const wrapper = value as {
      _json?: { resourceType?: unknown; id?: unknown };
      isDateTime?: unknown;
      isQuantity?: unknown;
    };
    const json = wrapper._json;
    if (json !== undefined) {
      if (typeof json.resourceType === 'string' && typeof json.id === 'string')
        into.add(`${json.resourceType}/${json.id}`);
      return;
    }
    if (wrapper.isDateTime === true || wrapper.isQuantity === true) return;
    for (const child of Object.values(value)) collectEvidence(child, into);
  }
}

/** A criterion definition's value as a result: true pass, false fail, null unknown. */
export function toResultValue(
  value: unknown,
  trialId: string,
  define: string,
): CriterionResultValue {
  if (value === true) return 'pass';
  if (value === false) return 'fail';
  if (value === null || value === undefined) return 'unknown';
  throw new CqlEvaluationError(`${trialId}: "${define}" is not a Boolean`);
}

/**
 * Evaluates one criterion with `valueOf` (a definition of the trial's library by name: a value, or
 * a promise of one) and reads its result. One criterion that cannot be evaluated (a value the CQL
 * cannot take) is unknown, with the reason flagged; a deadline or an abort is thrown on.
 * @param criterion - the trial's criterion.
 * @param trialId - for the error of a definition that is not a Boolean.
 * @param valueOf - evaluates a definition of the trial's library.
 */
export async function readCriterion(
  criterion: Criterion,
  trialId: string,
  valueOf: (define: string) => unknown,
): Promise<CriterionResult> {
  let value: unknown;
  const evidence = new Set<string>();
  let failed = false;
  if (criterion.define !== undefined) {
    try {
      value = valueOf(criterion.define);
      if (value instanceof Promise) value = await value;
      if (criterion.evidence !== undefined) {
        let found = valueOf(criterion.evidence);
        if (found instanceof Promise) found = await found;
        collectEvidence(found, evidence);
      }
    } catch (cause) {
      if (cause instanceof EngineDeadlineError || cause instanceof EngineAbortedError) throw cause;
      value = null;
      evidence.clear();
      failed = true;
    }
  }
  const result =
    criterion.define === undefined ? 'manual' : toResultValue(value, trialId, criterion.define);
  return {
    id: criterion.id,
    ...(criterion.cohort !== undefined ? { cohort: criterion.cohort } : {}),
    kind: criterion.kind,
    text: criterion.text,
    result,
    evidence: [...evidence].sort(),
    ...(failed ? { evaluationError: true as const } : {}),
  };
}
