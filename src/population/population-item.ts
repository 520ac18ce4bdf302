/**
 * What a population input yields, one patient at a time: a record to load and screen, a failure
 * that stands for one patient (or one unreadable input line), or a hint of how many to expect (for
 * the progress bar). Records are loaded lazily so that reading overlaps with evaluation.
 */
import type { ScreenedPatient } from '../domain/screening.js';
import type { Trial } from '../domain/trial.js';

export interface PopulationRecord {
  readonly kind: 'record';
  /** Where the record comes from: a file path, `<dir>#Patient/<id>`, `<base>/Patient/<id>`. */
  readonly source: string;
  /** Reads the patient's record as FHIR Bundle JSON (not yet checked). */
  load(signal: AbortSignal): Promise<unknown>;
}

export interface PopulationFailure {
  readonly kind: 'failure';
  readonly source: string;
  /** The patient the failure belongs to, when it is known. */
  readonly patientId?: string;
  /** Without patient data: what went wrong. */
  readonly message: string;
}

export interface PopulationExpect {
  readonly kind: 'expect';
  /** More patients announced (added to the expected total). */
  readonly count: number;
}

export type PopulationItem = PopulationRecord | PopulationFailure | PopulationExpect;

/** One outcome, in input order. */
export type PopulationResult =
  | {
      readonly kind: 'screened';
      readonly patient: ScreenedPatient;
      /** Resources about another patient that were left out of the record, by type (no ids). */
      readonly foreign?: Readonly<Record<string, number>>;
    }
  | PopulationFailure;

/** Writes the outcomes of a population screening in one format (report-writers.ts). */
export interface ReportWriter {
  write(result: PopulationResult): void;
  /** Closes the document. */
  finish(summary: {
    readonly screened: number;
    readonly failed: number;
    readonly interrupted: boolean;
  }): void;
}

/** What a report writer is given: the screening date, the trials, and where to write. */
export interface ReportContext {
  readonly asOf: string;
  readonly trials: readonly Trial[];
  readonly sink: (text: string) => void;
}
