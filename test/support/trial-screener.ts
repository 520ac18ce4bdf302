/**
 * Screens hand-built records against one trial through the real ELM, for criterion tests.
 * Call at the top level of a test file: the engine is built once, in beforeAll.
 */
import type { Bundle, FhirResource } from 'fhir/r4.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { CriterionResult, TrialResult } from '../../src/domain/screening.js';
import { toPatientBundle } from '../../src/fhir/patient-bundle.js';
import { AS_OF, bundle, patient } from './fhir-builders.js';

export interface TrialScreener {
  /** The trial's result; a default Patient is added when the resources hold none. */
  readonly screen: (...resources: FhirResource[]) => Promise<TrialResult>;
  /** The trial's result for a whole Bundle as given (e.g. a transaction Bundle). */
  readonly screenBundle: (input: Bundle) => Promise<TrialResult>;
  /** One criterion's result (for a multi-cohort trial, the criterion of no cohort). */
  readonly criterion: (id: string, ...resources: FhirResource[]) => Promise<CriterionResult>;
  /** One criterion's pass | fail | unknown | manual. */
  readonly result: (id: string, ...resources: FhirResource[]) => Promise<string>;
  /** One criterion of a cohort (undefined: the criteria every cohort shares). */
  readonly cohortCriterion: (
    cohort: string | undefined,
    id: string,
    ...resources: FhirResource[]
  ) => Promise<CriterionResult>;
}

export function trialScreener(trialId: string): TrialScreener {
  let engine: EligibilityEngine;
  beforeAll(() => {
    engine = loadEligibilityEngine();
  });

  async function screenBundle(input: Bundle): Promise<TrialResult> {
    const result = await engine.screen(toPatientBundle(input), AS_OF, [trialId]);
    const trial = result.trials.find((t) => t.id === trialId);
    if (trial === undefined) throw new Error(`${trialId} was not screened`);
    return trial;
  }

  function screen(...resources: FhirResource[]): Promise<TrialResult> {
    const all = resources.some((r) => r.resourceType === 'Patient')
      ? resources
      : [patient(), ...resources];
    return screenBundle(bundle(...all));
  }

  async function cohortCriterion(
    cohort: string | undefined,
    id: string,
    ...resources: FhirResource[]
  ): Promise<CriterionResult> {
    const found = (await screen(...resources)).criteria.find(
      (c) => c.id === id && c.cohort === cohort,
    );
    if (found === undefined) throw new Error(`no criterion ${cohort ?? '*'}/${id}`);
    return found;
  }

  const criterion = (id: string, ...resources: FhirResource[]): Promise<CriterionResult> =>
    cohortCriterion(undefined, id, ...resources);

  return {
    screen,
    screenBundle,
    criterion,
    cohortCriterion,
    result: async (id, ...resources) => (await criterion(id, ...resources)).result,
  };
}
