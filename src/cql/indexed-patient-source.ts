/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   cql-exec-fhir's records are untyped objects: this adapter is one of the two places that touch them. */
import type { Bundle } from 'fhir/r4.js';
import { PatientSource } from 'cql-exec-fhir';

interface CodeLike {
  readonly code?: string;
  readonly system?: string;
}

interface RetrieveDetailsLike {
  readonly codeProperty?: string;
  readonly codes?: readonly CodeLike[] | { readonly codes?: readonly CodeLike[] };
}

type FindRecords = (profile: string, details?: RetrieveDetailsLike) => any[];

/**
 * A cql-execution data provider for one patient at a time that does the expensive work once per
 * patient instead of once per retrieve:
 *  - cql-exec-fhir wraps every resource of a type on every retrieve; here each type is wrapped once
 *    and the wrapped records are reused by every retrieve of every trial library;
 *  - a retrieve by value set gets only the records whose raw `code.coding` can match it, so the
 *    engine's own (exact) code check runs on a handful of records, not on all of them.
 * Results are identical: the engine still applies its code filter to what is returned.
 */
export class IndexedPatientSource {
  private readonly source = PatientSource.FHIRv401({ requireProfileTagging: false });
  private patient: any;
  private started = false;
  private readonly byProfile = new Map<string, any[]>();
  private readonly codeKeys = new WeakMap<object, ReadonlySet<string>>();

  /** Loads one patient's normalised bundle; every later evaluation reads this patient. */
  load(bundle: Bundle): void {
    this.byProfile.clear();
    this.source.reset();
    this.source.loadBundles([bundle]);
    const patient: any = this.source.currentPatient();
    if (patient === undefined) throw new Error('the bundle holds no Patient');
    const findRecords: FindRecords = patient.findRecords.bind(patient);
    patient.findRecords = (profile: string, details?: RetrieveDetailsLike) =>
      this.find(findRecords, profile, details);
    this.patient = patient;
  }

  /** Starts an evaluation over the loaded patient (call before each Executor.exec). */
  rewind(): this {
    this.started = false;
    return this;
  }

  currentPatient(): any {
    this.started = true;
    return this.patient;
  }

  nextPatient(): any {
    if (!this.started) return this.currentPatient();
    return undefined;
  }

  private find(findRecords: FindRecords, profile: string, details?: RetrieveDetailsLike): any[] {
    let records = this.byProfile.get(profile);
    if (records === undefined) {
      records = findRecords(profile);
      this.byProfile.set(profile, records);
    }
    const keys = this.keysOf(details?.codes);
    const property = details?.codeProperty;
    if (keys === undefined || property === undefined) return records;
    return records.filter((record) => mayMatch(record?._json?.[property], keys));
  }

  private keysOf(codes: RetrieveDetailsLike['codes'] | null): ReadonlySet<string> | undefined {
    if (codes === undefined || codes === null) return undefined;
    const list = isCodeList(codes) ? codes : codes.codes;
    if (list === undefined) return undefined;
    let keys = this.codeKeys.get(codes);
    if (keys === undefined) {
      // A code without a system could match any system: leave such value sets to the engine.
      if (list.some((c) => typeof c.system !== 'string')) return undefined;
      keys = new Set(list.map((c) => `${String(c.system)}|${String(c.code)}`));
      this.codeKeys.set(codes, keys);
    }
    return keys;
  }
}

function isCodeList(codes: NonNullable<RetrieveDetailsLike['codes']>): codes is readonly CodeLike[] {
  return Array.isArray(codes);
}

/** Whether a raw CodeableConcept could match the codes (unknown shapes are kept for the engine to decide). */
function mayMatch(concept: any, keys: ReadonlySet<string>): boolean {
  if (concept === null || typeof concept !== 'object' || !Array.isArray(concept.coding))
    return true;
  return concept.coding.some(
    (coding: any) =>
      typeof coding?.system !== 'string' || keys.has(`${coding.system}|${String(coding.code)}`),
  );
}
