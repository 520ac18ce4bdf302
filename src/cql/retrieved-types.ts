/**
 * The start-up check of issue 16 item 3: every resource type a retrieve names must reach the
 * engine. The record readers (the prefetch and fetch plan, the FHIR server and NDJSON population
 * readers, the record builder) take every type the ELM retrieves, with no list of their own; what
 * they cannot do is tell whose record a resource belongs to other than by its `subject` or
 * `patient` reference (patient-references.ts) and search a type other than by `patient`. A
 * retrieve of a type the FHIR model does not relate to the Patient that way (a Medication, a
 * Practitioner, an Encounter's `Location`) would silently find nothing: the process does not start.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigurationError } from '../shared/errors.js';
import { fetchPlan, type PlannedRetrieve } from './fetch-plan.js';

/** The elements the record readers find a resource's patient by (patient-references.ts). */
const PATIENT_ELEMENTS = new Set(['subject', 'patient']);

let modelInfo: string | undefined;

/** The FHIR 4.0.1 model info cql-exec-fhir runs with (the translator's model, too). */
function fhirModelInfo(): string {
  if (modelInfo === undefined) {
    const require = createRequire(import.meta.url);
    modelInfo = readFileSync(
      require.resolve('cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml'),
      'utf8',
    );
  }
  return modelInfo;
}

/**
 * The elements relating a resource type to its Patient in the FHIR model info
 * (`<contextRelationship context="Patient" relatedKeyElement="subject"/>`).
 * @param type - a FHIR resource type, e.g. `Procedure`.
 */
export function patientElementsOf(type: string): string[] {
  const info = fhirModelInfo();
  const start = info.indexOf(`namespace="FHIR" name="${type}" `);
  if (start < 0) return [];
  const end = info.indexOf('</typeInfo>', start);
  const block = info.slice(start, end < 0 ? undefined : end);
  return [
    ...block.matchAll(/<contextRelationship context="Patient" relatedKeyElement="([A-Za-z]+)"\/>/g),
  ].map((m) => m[1] as string);
}

/**
 * Fails when a reader would drop what a retrieve names: a type the record readers cannot attribute
 * to the patient, or a retrieve the fetch plan cannot ask for (fetchPlan's own checks).
 * @param retrieves - plannedRetrieves() of every library the engine runs.
 * @throws ConfigurationError naming the library, the type and the reader.
 */
export function checkRetrievedTypes(retrieves: readonly PlannedRetrieve[]): void {
  for (const { library, type } of retrieves) {
    if (type === 'Patient') continue;
    const elements = patientElementsOf(type);
    if (!elements.some((e) => PATIENT_ELEMENTS.has(e)))
      throw new ConfigurationError(
        `${library}: a retrieve of ${type} cannot be read: the record readers (prefetch and fetch plan, population readers, record builder) keep a resource by its subject or patient reference, and FHIR R4 relates ${type} to the Patient ${elements.length === 0 ? 'by no element' : `by ${elements.join(', ')}`}`,
      );
  }
  try {
    fetchPlan(retrieves);
  } catch (error) {
    throw new ConfigurationError(
      `the prefetch and fetch plan cannot read a retrieve: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
