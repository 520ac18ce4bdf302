/** Results of screening one patient: the engine's output, shared by the CLI, the service and cards. */

/** Why part of a resource type's record is missing (fhir/partial-record.ts reads the reasons). */
export type PartialReason = 'too-long' | 'withheld' | 'unresolved-medication';

export type CriterionResultValue = 'pass' | 'fail' | 'unknown' | 'manual';
export type TrialStatus = 'eligible' | 'needs-review' | 'ineligible';

export interface CriterionResult {
  readonly id: string;
  readonly cohort?: string;
  readonly kind: 'inclusion' | 'exclusion';
  readonly text: string;
  readonly result: CriterionResultValue;
  /** References (`Type/id`) to the resources that decided the result. */
  readonly evidence: readonly string[];
  /**
   * The criterion's CQL failed on this record (a value it cannot take): the result is `unknown`
   * and the rest of the screening goes on (issue 15 item 5).
   */
  readonly evaluationError?: true;
  /**
   * The criterion reads a resource type the record holds only in part (a search cut short, data
   * withheld, a drug not identified): the result is `unknown`, never decided from the part that
   * was read (issue 12). Types and reasons only.
   */
  readonly partialRecord?: readonly { readonly type: string; readonly reason: PartialReason }[];
}

export interface TrialResult {
  readonly id: string;
  readonly title: string;
  readonly status: TrialStatus;
  /** For a multi-cohort trial: the cohorts the patient is not ruled out of, best first. */
  readonly cohorts?: readonly string[];
  /**
   * The evaluation stopped at the first criterion that ruled the trial out (asked for with
   * `stopAtIneligible`, as the CDS service does): `criteria` holds only the criteria evaluated.
   */
  readonly stoppedEarly?: true;
  readonly criteria: readonly CriterionResult[];
}

export interface PatientScreening {
  readonly patientId: string;
  readonly asOf: string;
  readonly trials: readonly TrialResult[];
}

/** One patient in the screen CLI's JSON contract (issue 3). */
export interface ScreenedPatient extends Omit<PatientScreening, 'asOf'> {
  readonly source: string;
}

/** The screen CLI's JSON document. */
export interface ScreenReport {
  readonly asOf: string;
  readonly patients: readonly ScreenedPatient[];
}
