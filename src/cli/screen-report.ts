import type { PatientScreening } from '../domain/screening.js';

/** One patient in the screen CLI's JSON contract (issue 3). */
export interface ScreenedPatient extends Omit<PatientScreening, 'asOf'> {
  readonly source: string;
}

/** The screen CLI's JSON document. */
export interface ScreenReport {
  readonly asOf: string;
  readonly patients: readonly ScreenedPatient[];
}
