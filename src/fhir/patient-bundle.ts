import type { Bundle, CodeableConcept, FhirResource, Quantity, Reference } from 'fhir/r4.js';
import { InvalidPatientDataError } from '../shared/errors.js';
import { UNREADABLE_VALUE_URL } from '../shared/unreadable-value.js';
import { isValidUcum, toUcum } from './ucum-units.js';
import {
  describeCounts,
  keepPatientResources,
  totalCount,
  type CountsByType,
} from './patient-references.js';
import { isUsableNumber, quantityNumber } from './quantity-values.js';
import {
  addPartial,
  outcomePartialReason,
  type PartialReason,
  type PartialTypes,
} from './partial-record.js';

/**
 * The resource types the project's criteria read, for a caller with no engine at hand (tests,
 * tools). The service and the CLI pass the engine's `reads`, whose types come from the ELM's
 * retrieves (retrieve-scope.ts): a type a new library retrieves is read with no change here.
 */
export const ENGINE_RESOURCE_TYPES = [
  'Patient',
  'Condition',
  'Observation',
  'MedicationStatement',
  'MedicationRequest',
  'MedicationAdministration',
  'MedicationDispense',
  'AllergyIntolerance',
  'Procedure',
] as const;

/**
 * Which resources the engine reads (EligibilityEngine.reads, RetrieveScope.reader): a filter, with
 * the resource types it can keep when they are known (undefined: any type).
 */
export type ResourceReads = ((resource: FhirResource) => boolean) & {
  readonly types?: readonly string[];
};

const UCUM = 'http://unitsofmeasure.org';

/** One patient's record, made ready for the CQL engine. */
export interface PatientBundle {
  readonly patientId: string;
  /** A collection Bundle with only ENGINE_RESOURCE_TYPES, references made relative, units made UCUM. */
  readonly bundle: Bundle;
  /** What was left out or repaired, without patient data (counts and resource types only). */
  readonly notes: readonly string[];
  /** Resources about another patient that were left out, by type (issue 15 item 1). */
  readonly foreign?: CountsByType;
  /**
   * Resource types read only in part, and why (partial-record.ts): criteria that read them are
   * unknown, never decided from the part that was read (issue 12).
   */
  readonly partial?: PartialTypes;
}

/** What the reader of the record knows beyond the Bundle itself. */
export interface PatientBundleOptions {
  /** Types the reader could not read in full (a search cut, data withheld). */
  readonly partial?: PartialTypes;
  /** `fullUrl` -> `Type/id` of resources read from searchsets: absolute references resolve to them. */
  readonly fullUrls?: ReadonlyMap<string, string>;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rewrites every `reference` that names a bundle entry by fullUrl (`urn:uuid:...`) to `Type/id`. */
function rewriteReferences(value: unknown, byFullUrl: ReadonlyMap<string, string>): void {
  if (Array.isArray(value)) {
    for (const item of value) rewriteReferences(item, byFullUrl);
  } else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') {
        const target = byFullUrl.get(child);
        if (target !== undefined) value[key] = target;
      } else {
        rewriteReferences(child, byFullUrl);
      }
    }
  }
}

/**
 * Makes a Quantity's unit UCUM and its value a usable number (quantity-values.ts).
 * @returns undefined when it can be used, else why it cannot (no value is quoted).
 */
function normaliseQuantity(quantity: Quantity | undefined, isDose: boolean): string | undefined {
  if (quantity === undefined) return undefined;
  if (quantity.system !== undefined && quantity.system !== UCUM) return 'a unit that is not UCUM';
  const written = quantity.code ?? quantity.unit;
  if (written === undefined) {
    // A dose without a unit ("1") counts units of the product, as Synthea writes tablets.
    if (isDose) quantity.code = '{tablet}';
  } else {
    const code = toUcum(written, isDose);
    if (code === undefined) return 'a unit that is not UCUM';
    quantity.code = code;
    quantity.system = UCUM;
  }
  const value = quantityNumber(quantity.value, quantity.code);
  if (typeof value === 'object') return `a value that is ${value.unusable}`;
  if (value !== undefined) quantity.value = value;
  return undefined;
}

/** A number as a lab writes it in text: "<0.5", ">= 1000 U/L", "12.3 mg/dL". */
const WRITTEN_NUMBER = /^\s*(<=|>=|<|>|\u2264|\u2265)?\s*(\d+(?:\.\d+)?)\s*([^\s\d<>=:+].*?)?\s*$/;
const COMPARATORS: Readonly<Record<string, string>> = { '\u2264': '<=', '\u2265': '>=' };

/** The unit of the first Quantity of a reference range, to read a unitless written number by. */
function rangeUnit(observation: JsonObject): string | undefined {
  const ranges = Array.isArray(observation.referenceRange)
    ? (observation.referenceRange as unknown[])
    : [];
  for (const range of ranges) {
    if (!isObject(range)) continue;
    for (const bound of [range.high, range.low]) {
      if (!isObject(bound)) continue;
      const unit = bound.code ?? bound.unit;
      if (typeof unit === 'string') return unit;
    }
  }
  return undefined;
}

/**
 * A number written as text (`valueString` "<0.5", ">1000 U/L") made a Quantity with its
 * comparator, in the unit written after it, else the unit of the lab's reference range, else
 * none (then only criteria that count without a unit can read it). Words and titres are left as
 * they are: the CQL reads those (Labs.IsPositive, Labs.Titer).
 */
function readWrittenNumber(observation: JsonObject): void {
  if (typeof observation.valueString !== 'string' || observation.valueQuantity !== undefined)
    return;
  const match = WRITTEN_NUMBER.exec(observation.valueString);
  if (match === null) return;
  const [, comparator, number, unit] = match;
  // Text after the number that is no unit ("2 copies seen"): not a number to compare.
  if (unit !== undefined && toUcum(unit) === undefined) return;
  const written = unit ?? rangeUnit(observation);
  observation.valueQuantity = {
    value: Number(number),
    ...(comparator !== undefined ? { comparator: COMPARATORS[comparator] ?? comparator } : {}),
    ...(written !== undefined ? { unit: written } : {}),
  };
  delete observation.valueString;
}

/**
 * A reference range written only as text ("<=9", "<5.0", "3.5-5.0", ">=60") made low/high in the
 * result's unit: the lab's own range beats any default table.
 */
function readRangeText(observation: JsonObject): void {
  const ranges = observation.referenceRange;
  if (!Array.isArray(ranges)) return;
  const value = observation.valueQuantity;
  const unit = isObject(value) ? (value.code ?? value.unit) : undefined;
  const quantity = (n: string): JsonObject => ({
    value: Number(n),
    ...(typeof unit === 'string' ? { unit } : {}),
    ...(isObject(value) && value.system !== undefined ? { system: value.system } : {}),
    ...(isObject(value) && value.code !== undefined ? { code: value.code } : {}),
  });
  for (const range of ranges as unknown[]) {
    if (!isObject(range) || typeof range.text !== 'string') continue;
    if (range.low !== undefined || range.high !== undefined) continue;
    const text = range.text
      .trim()
      .replace(/\u2264/g, '<=')
      .replace(/\u2265/g, '>=');
    const upper = /^(<=?)\s*(\d+(?:\.\d+)?)\s*\S*$/.exec(text);
    const lower = /^(>=?)\s*(\d+(?:\.\d+)?)\s*\S*$/.exec(text);
    const both = /^(\d+(?:\.\d+)?)\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*\S*$/.exec(text);
    if (upper?.[2] !== undefined) range.high = quantity(upper[2]);
    else if (lower?.[2] !== undefined) range.low = quantity(lower[2]);
    else if (both?.[1] !== undefined && both[2] !== undefined) {
      range.low = quantity(both[1]);
      range.high = quantity(both[2]);
    }
  }
}

function normaliseObservation(observation: JsonObject, notes: string[]): void {
  readWrittenNumber(observation);
  readRangeText(observation);
  const problem = normaliseQuantity(observation.valueQuantity as Quantity | undefined, false);
  if (problem !== undefined) {
    delete observation.valueQuantity;
    notes.push(`an Observation value with ${problem} was ignored`);
    const extensions = Array.isArray(observation.extension) ? observation.extension : [];
    observation.extension = [
      ...(extensions as unknown[]),
      { url: UNREADABLE_VALUE_URL, valueString: problem },
    ];
  }
  const ranges = observation.referenceRange;
  if (Array.isArray(ranges)) {
    for (const range of ranges as JsonObject[]) {
      if (!isObject(range)) continue;
      if (normaliseQuantity(range.low as Quantity | undefined, false) !== undefined)
        delete range.low;
      if (normaliseQuantity(range.high as Quantity | undefined, false) !== undefined)
        delete range.high;
    }
  }
}

function normaliseDosages(dosages: unknown): void {
  if (!Array.isArray(dosages)) return;
  for (const dosage of dosages as JsonObject[]) {
    const doseAndRate = dosage.doseAndRate;
    if (!Array.isArray(doseAndRate)) continue;
    for (const entry of doseAndRate as JsonObject[]) {
      if (normaliseQuantity(entry.doseQuantity as Quantity | undefined, true) !== undefined)
        delete entry.doseQuantity;
    }
  }
}

function isNormalQuantity(quantity: unknown): boolean {
  if (quantity === undefined) return true;
  if (!isObject(quantity)) return false;
  return (
    quantity.system === UCUM &&
    typeof quantity.code === 'string' &&
    isValidUcum(quantity.code) &&
    isUsableNumber(quantity.value, quantity.code)
  );
}

/** Whether normalisation would leave the resource as it is (so it need not be copied). */
function isAlreadyNormal(resource: JsonObject): boolean {
  switch (resource.resourceType) {
    case 'Patient':
    case 'Condition':
      return true;
    case 'Observation': {
      const ranges = resource.referenceRange;
      return (
        typeof resource.valueString !== 'string' &&
        isNormalQuantity(resource.valueQuantity) &&
        (ranges === undefined ||
          (Array.isArray(ranges) &&
            (ranges as unknown[]).every(
              (range) =>
                isObject(range) &&
                (typeof range.text !== 'string' ||
                  range.low !== undefined ||
                  range.high !== undefined) &&
                isNormalQuantity(range.low) &&
                isNormalQuantity(range.high),
            )))
      );
    }
    default:
      return false;
  }
}

/**
 * Replaces `medicationReference` with the referenced Medication's code (from the bundle or
 * contained), keeping the reference's display as text, so that criteria see one shape.
 */
function resolveMedication(
  resource: JsonObject,
  medications: ReadonlyMap<string, CodeableConcept>,
): boolean {
  const reference = resource.medicationReference as Reference | undefined;
  if (reference === undefined || resource.medicationCodeableConcept !== undefined) return true;
  let concept: CodeableConcept | undefined;
  if (reference.reference?.startsWith('#') === true && Array.isArray(resource.contained)) {
    const id = reference.reference.slice(1);
    const contained = (resource.contained as JsonObject[]).find(
      (r) => r.resourceType === 'Medication' && r.id === id,
    );
    concept = contained?.code as CodeableConcept | undefined;
  } else if (reference.reference !== undefined) {
    concept = medications.get(reference.reference);
  }
  const text = concept?.text ?? reference.display;
  const resolved: CodeableConcept = { ...(concept ?? {}), ...(text !== undefined ? { text } : {}) };
  if (resolved.coding === undefined && resolved.text === undefined) return false;
  resource.medicationCodeableConcept = resolved;
  delete resource.medicationReference;
  return true;
}

/** Resource types named in an OperationOutcome's text (Epic: "Client not authorized for Condition ..."). */
function typesNamed(outcome: JsonObject, types: readonly string[]): string[] {
  const text = JSON.stringify(outcome.issue ?? []);
  return types.filter((type) => type !== 'Patient' && new RegExp(`\\b${type}\\b`).test(text));
}

/**
 * Turns a Bundle holding one patient's record (collection, searchset, transaction or batch, with
 * `urn:uuid` references as Synthea writes them) into the engine's input. The input is not changed.
 * @param input - parsed JSON that should be a FHIR Bundle.
 * @param reads - which resources the engine can read (EligibilityEngine.reads, from the ELM's
 *   retrieves): the others are left out before normalising; the Patient always stays. Its `types`
 *   are the types an OperationOutcome can make partial. Default: every resource of
 *   ENGINE_RESOURCE_TYPES.
 * @throws InvalidPatientDataError when it is not a Bundle or does not hold exactly one Patient.
 */
export function toPatientBundle(
  input: unknown,
  reads?: ResourceReads,
  options: PatientBundleOptions = {},
): PatientBundle {
  const readTypes: readonly string[] = reads?.types ?? ENGINE_RESOURCE_TYPES;
  const partial: Record<string, PartialReason> = { ...options.partial };
  if (!isObject(input) || input.resourceType !== 'Bundle') {
    throw new InvalidPatientDataError('not a FHIR Bundle (resourceType must be "Bundle")');
  }
  if (input.entry !== undefined && !Array.isArray(input.entry)) {
    throw new InvalidPatientDataError('Bundle.entry must be an array', {
      expression: ['Bundle.entry'],
    });
  }
  const notes: string[] = [];
  const entries = (input.entry ?? []) as unknown[];
  const resources: JsonObject[] = [];
  const byFullUrl = new Map<string, string>();
  /** An entry's resource -> its fullUrl: the names the Patient's entry goes by. */
  const fullUrlOf = new Map<JsonObject, string>();
  let outcomes = 0;
  entries.forEach((entry, index) => {
    if (
      !isObject(entry) ||
      !isObject(entry.resource) ||
      typeof entry.resource.resourceType !== 'string'
    ) {
      throw new InvalidPatientDataError(`Bundle.entry[${index}] has no resource`, {
        expression: [`Bundle.entry[${index}]`],
      });
    }
    const resource = entry.resource;
    if (resource.resourceType === 'OperationOutcome') {
      outcomes++;
      // A Bundle (a searchset saved whole, an export) that says part of it was withheld: the
      // types it names, else every type, are partial.
      const reason = outcomePartialReason(resource as never);
      if (reason !== undefined) {
        const named = typesNamed(resource, readTypes);
        for (const type of named.length > 0 ? named : readTypes.filter((t) => t !== 'Patient'))
          addPartial(partial, type, reason);
      }
      return;
    }
    const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
    let id = typeof resource.id === 'string' && resource.id !== '' ? resource.id : undefined;
    if (id === undefined && fullUrl?.startsWith('urn:uuid:') === true)
      id = fullUrl.slice('urn:uuid:'.length);
    id ??= `entry-${index}`;
    const typedRef = `${resource.resourceType as string}/${id}`;
    if (fullUrl !== undefined) byFullUrl.set(fullUrl, typedRef);
    const named = resource.id === id ? resource : { ...resource, id };
    if (fullUrl !== undefined) fullUrlOf.set(named, fullUrl);
    resources.push(named);
  });
  if (outcomes > 0) notes.push(`${outcomes} OperationOutcome entries were skipped`);

  const patients = resources.filter((r) => r.resourceType === 'Patient');
  if (patients.length !== 1) {
    throw new InvalidPatientDataError(
      patients.length === 0
        ? 'the Bundle holds no Patient resource'
        : `the Bundle holds ${patients.length} Patient resources; one patient per Bundle`,
    );
  }
  // Only the patient's own resources: another patient's never decide a criterion (issue 15 item 1).
  const patient = patients[0] as JsonObject;
  // Names the Patient goes by: its entry's fullUrl, and those the reader saw (absolute URLs).
  const patientRef = `Patient/${patient.id as string}`;
  const patientFullUrls = [
    ...(fullUrlOf.get(patient) !== undefined ? [fullUrlOf.get(patient) as string] : []),
    ...[...(options.fullUrls ?? [])].filter(([, ref]) => ref === patientRef).map(([url]) => url),
  ];
  const { kept: own, foreign } = keepPatientResources(resources, {
    id: patient.id as string,
    ...(patientFullUrls.length > 0 ? { fullUrls: patientFullUrls } : {}),
  });
  if (totalCount(foreign) > 0)
    notes.push(`resources about another patient were left out (${describeCounts(foreign)})`);
  const medications = new Map<string, CodeableConcept>();
  for (const r of own) {
    if (r.resourceType === 'Medication' && isObject(r.code)) {
      medications.set(`Medication/${r.id as string}`, r.code);
    }
  }
  for (const [fullUrl, ref] of [...byFullUrl, ...(options.fullUrls ?? [])]) {
    const concept = medications.get(ref);
    if (concept !== undefined) medications.set(fullUrl, concept);
  }

  // With the engine's filter, it alone decides (every type a retrieve names); else the defaults.
  const wanted = reads === undefined ? new Set<string>(ENGINE_RESOURCE_TYPES) : undefined;
  // References name entries by fullUrl only in bundles that have fullUrls (Synthea's urn:uuid);
  // prefetch bundles assembled by the service have none, and their resources need no rewrite.
  const rewrite = byFullUrl.size > 0;
  const kept: FhirResource[] = [];
  for (const original of own) {
    if (typeof original.resourceType !== 'string') continue;
    if (wanted !== undefined && !wanted.has(original.resourceType)) continue;
    if (
      reads !== undefined &&
      original.resourceType !== 'Patient' &&
      !reads(original as unknown as FhirResource)
    )
      continue;
    // The input is never changed: copy a resource only when normalisation will change it.
    if (!rewrite && isAlreadyNormal(original)) {
      kept.push(original as unknown as FhirResource);
      continue;
    }
    const resource = structuredClone(original);
    // A drug that cannot be identified is not "no such drug": what it would decide is unknown.
    if (!resolveMedication(resource, medications))
      addPartial(partial, resource.resourceType as string, 'unresolved-medication');
    if (rewrite) rewriteReferences(resource, byFullUrl);
    if (resource.resourceType === 'Observation') normaliseObservation(resource, notes);
    if (resource.resourceType === 'MedicationRequest') normaliseDosages(resource.dosageInstruction);
    if (resource.resourceType === 'MedicationStatement') normaliseDosages(resource.dosage);
    if (resource.resourceType === 'MedicationDispense')
      normaliseDosages(resource.dosageInstruction);
    if (resource.resourceType === 'MedicationAdministration' && isObject(resource.dosage)) {
      const dosage = resource.dosage;
      if (normaliseQuantity(dosage.dose as Quantity | undefined, true) !== undefined)
        delete dosage.dose;
    }
    kept.push(resource as unknown as FhirResource);
  }
  return {
    patientId: patient.id as string,
    bundle: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: kept.map((resource) => ({ resource })),
    },
    notes,
    ...(totalCount(foreign) > 0 ? { foreign } : {}),
    ...(Object.keys(partial).length > 0 ? { partial } : {}),
  };
}
