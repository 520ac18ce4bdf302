/**
 * Whose record a resource belongs to. A prefetch, a FHIR server that ignores `?patient=` or a
 * record file can hold another patient's resources; none of them may decide a criterion, so every
 * path that builds a record (prefetch, FHIR server reads, the CLI and population files) keeps only
 * the resources about the patient in context and counts the others, by type (issue 15 item 1).
 */

type JsonObject = Record<string, unknown>;

/** The patient in context, and the names a reference may give it. */
export interface PatientIdentity {
  /** The logical id (`context.patientId`, or the id of the record's Patient). */
  readonly id: string;
  /** Bundle fullUrls of the patient's entry (`urn:uuid:...`, absolute URLs). */
  readonly fullUrls?: readonly string[];
}

/** Counts of dropped resources by resource type: what a log line may say (no ids, no values). */
export type CountsByType = Record<string, number>;

/** The elements through which the record's resources name their patient (FHIR R4). */
const PATIENT_ELEMENTS = ['subject', 'patient'] as const;

/** `[base/]Patient/<id>[/_history/<version>]`: the id, or undefined for another kind of reference. */
function patientIdOf(reference: string): string | undefined {
  const match =
    /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(reference);
  return match?.[1];
}

/**
 * Whether a reference string names the patient: `Patient/1`, `https://x/fhir/Patient/1` (any
 * base: the id is what a server's search for the patient matched), `Patient/1/_history/2`, or a
 * `urn:uuid:` that is the patient's fullUrl or its id (Synthea's patients carry the uuid as id).
 * @param reference - the `reference` of a Reference.
 * @param patient - the patient in context.
 */
export function referencesPatient(reference: string, patient: PatientIdentity): boolean {
  if (patient.fullUrls?.includes(reference) === true) return true;
  if (reference.startsWith('urn:uuid:')) return reference.slice('urn:uuid:'.length) === patient.id;
  return patientIdOf(reference) === patient.id;
}

/**
 * Whether a resource may be part of the patient's record: a Patient only when it is the patient
 * (by id); any other resource only when every `subject`/`patient` reference it has names the
 * patient. A resource naming no patient at all (no such element, or a Reference with only an
 * identifier or display) is kept: nothing says it is someone else's, and it came with the record.
 * @param resource - a FHIR resource as JSON.
 * @param patient - the patient in context.
 */
export function belongsToPatient(resource: JsonObject, patient: PatientIdentity): boolean {
  if (resource.resourceType === 'Patient') return resource.id === patient.id;
  for (const element of PATIENT_ELEMENTS) {
    const value = resource[element];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) return false;
    const reference = (value as JsonObject).reference;
    if (reference === undefined) continue;
    if (typeof reference !== 'string' || !referencesPatient(reference, patient)) return false;
  }
  return true;
}

/**
 * Splits resources into the patient's and the others (counted by type).
 * @param resources - resources as JSON.
 * @param patient - the patient in context.
 */
export function keepPatientResources<T extends JsonObject>(
  resources: readonly T[],
  patient: PatientIdentity,
): { readonly kept: T[]; readonly foreign: CountsByType } {
  const kept: T[] = [];
  const foreign: CountsByType = {};
  for (const resource of resources) {
    if (belongsToPatient(resource, patient)) kept.push(resource);
    else addCount(foreign, resource.resourceType);
  }
  return { kept, foreign };
}

/** Adds one to the count of a resource type (a type that is not a plain name counts as "unknown"). */
export function addCount(counts: CountsByType, resourceType: unknown): void {
  const type =
    typeof resourceType === 'string' && /^[A-Z][A-Za-z]{0,63}$/.test(resourceType)
      ? resourceType
      : 'unknown';
  counts[type] = (counts[type] ?? 0) + 1;
}

/** `Observation: 2, Condition: 1`, for notes and log messages. */
export function describeCounts(counts: CountsByType): string {
  return Object.entries(counts)
    .map(([type, n]) => `${type}: ${n}`)
    .join(', ');
}

/** The total of a CountsByType. */
export function totalCount(counts: CountsByType): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}
