/**
 * The records the differential oracle runs on: the demo patients, the Synthea bundles, and seeded
 * generated patients: the synthetic population's (synthetic-population.ts) and, from fast-check with
 * a fixed seed, the same patients changed in the ways real records vary (dates missing, partial,
 * with an offset or on a window's edge; a Period for a dateTime; other statuses; values at and
 * around thresholds, other units, missing; codes without a system or with a second coding; text
 * only; the same resource twice, under one id or two). Each is normalised once (toPatientBundle):
 * both sides of the oracle get the same bundle.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-dynamic-delete --
   the variations edit FHIR JSON of any shape in place. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { toPatientBundle } from '../../../src/fhir/patient-bundle.js';
import { generatePatient, seededRandom, toBundle } from '../synthetic-population.js';
import type { OracleRecord } from './oracle.js';

const DEMO = fileURLToPath(new URL('../../../demo/', import.meta.url));

/** demo/patients and demo/synthea. */
export function demoRecords(): OracleRecord[] {
  return ['patients', 'synthea'].flatMap((dir) =>
    readdirSync(`${DEMO}${dir}`)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({
        name: `${dir}/${f}`,
        patient: toPatientBundle(JSON.parse(readFileSync(`${DEMO}${dir}/${f}`, 'utf8')) as unknown),
      })),
  );
}

/**
 * Patients of the synthetic population, as generated.
 * @param count - how many.
 * @param seed - the population's PRNG seed.
 * @param asOf - the date the records are current at.
 */
export function syntheticRecords(count: number, seed: number, asOf: string): OracleRecord[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const generated = generatePatient(i, random, asOf);
    return { name: generated.id, patient: toPatientBundle(toBundle(generated)) };
  });
}

type Json = Record<string, any>;

const MUTATIONS = [
  'drop-date',
  'period-date',
  'partial-date',
  'offset-date',
  'edge-date',
  'status',
  'drop-value',
  'scale-value',
  'other-unit',
  'drop-system',
  'second-coding',
  'text-only',
  'duplicate-id',
  'duplicate-copy',
  'birth-date',
  'gender',
] as const;
type MutationKind = (typeof MUTATIONS)[number];

interface Mutation {
  readonly kind: MutationKind;
  /** Which resource (modulo the record's size). */
  readonly target: number;
  /** The mutation's choice among its variants. */
  readonly pick: number;
}

const DATE_FIELDS = [
  'effectiveDateTime',
  'onsetDateTime',
  'recordedDate',
  'authoredOn',
  'issued',
  'abatementDateTime',
];
/** Days before the evaluation date on and around the windows the criteria count back. */
const EDGE_DAYS = [
  0, 1, 13, 14, 15, 27, 28, 29, 55, 56, 57, 83, 84, 90, 91, 180, 182, 183, 365, 366,
];
const STATUSES = [
  'final',
  'amended',
  'corrected',
  'preliminary',
  'registered',
  'entered-in-error',
  'cancelled',
  'unknown',
  'active',
  'completed',
  'stopped',
  'on-hold',
  'draft',
];
const CLINICAL = ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'];
const VERIFICATION = [
  'confirmed',
  'provisional',
  'differential',
  'unconfirmed',
  'refuted',
  'entered-in-error',
];
const SCALES = [0, 0.5, 0.99, 1.01, 1.5, 2, 3, 10];
const OTHER_UNITS: Record<string, string> = {
  'g/dL': 'g/L',
  'g/L': 'g/dL',
  'mg/dL': 'umol/L',
  'umol/L': 'mg/dL',
  '10*3/uL': '10*9/L',
  '10*9/L': '/uL',
  kg: '[lb_av]',
  '%': '1',
};
const SECOND_CODINGS = [
  { system: 'http://snomed.info/sct', code: '55464009' },
  { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M32.9' },
  { system: 'http://loinc.org', code: '718-7' },
  { system: 'urn:oid:2.16.840.1.113883.6.96', code: '55464009' },
  { system: 'http://example.org/local', code: 'X1' },
];

function daysBefore(asOf: string, days: number): string {
  return new Date(Date.parse(`${asOf}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

function dateFieldOf(resource: Json): string | undefined {
  return DATE_FIELDS.find((f) => typeof resource[f] === 'string');
}

function firstQuantity(resource: Json): Json | undefined {
  if (resource.valueQuantity !== undefined) return resource.valueQuantity as Json;
  const dosage = (resource.dosage ?? resource.dosageInstruction) as Json[] | undefined;
  return dosage?.[0]?.doseAndRate?.[0]?.doseQuantity as Json | undefined;
}

function codeOf(resource: Json): Json | undefined {
  return (resource.code ?? resource.medicationCodeableConcept) as Json | undefined;
}

function mutate(resources: Json[], mutation: Mutation, asOf: string): void {
  const { kind, pick } = mutation;
  const patient = resources.find((r) => r.resourceType === 'Patient')!;
  const others = resources.filter((r) => r.resourceType !== 'Patient');
  const resource = others.length > 0 ? others[mutation.target % others.length]! : patient;
  const choose = <T>(items: readonly T[]): T => items[pick % items.length]!;
  const field = dateFieldOf(resource);
  switch (kind) {
    case 'drop-date':
      if (field !== undefined) delete resource[field];
      delete resource.effectivePeriod;
      break;
    case 'period-date':
      if (field === 'effectiveDateTime') {
        const start = resource[field] as string;
        delete resource[field];
        resource.effectivePeriod = pick % 2 === 0 ? { start } : { start, end: start };
      }
      break;
    case 'partial-date':
      if (field !== undefined)
        resource[field] = (resource[field] as string).slice(0, pick % 2 === 0 ? 7 : 4);
      break;
    case 'offset-date':
      if (field !== undefined)
        resource[field] =
          `${(resource[field] as string).slice(0, 10)}T${choose(['23:30:00+05:00', '00:30:00-11:00', '12:00:00Z', '23:59:59.999-04:00'])}`;
      break;
    case 'edge-date':
      if (field !== undefined) resource[field] = daysBefore(asOf, choose(EDGE_DAYS));
      else if (resource.effectivePeriod !== undefined)
        (resource.effectivePeriod as Json).start = daysBefore(asOf, choose(EDGE_DAYS));
      break;
    case 'status':
      if (resource.resourceType === 'Condition') {
        const clinical = resource.clinicalStatus as Json | undefined;
        const verification = resource.verificationStatus as Json | undefined;
        if (pick % 3 === 0) delete resource.clinicalStatus;
        else if (pick % 3 === 1 && clinical !== undefined)
          clinical.coding[0].code = choose(CLINICAL);
        else if (verification !== undefined) verification.coding[0].code = choose(VERIFICATION);
      } else if (resource.status !== undefined) resource.status = choose(STATUSES);
      break;
    case 'drop-value':
      delete resource.valueQuantity;
      delete resource.valueCodeableConcept;
      delete resource.valueInteger;
      break;
    case 'scale-value': {
      const quantity = firstQuantity(resource);
      if (quantity !== undefined && typeof quantity.value === 'number')
        quantity.value = Math.round(quantity.value * choose(SCALES) * 1000) / 1000;
      else if (typeof resource.valueInteger === 'number')
        resource.valueInteger = Math.round(resource.valueInteger * choose(SCALES));
      break;
    }
    case 'other-unit': {
      const quantity = firstQuantity(resource);
      const unit = quantity?.code as string | undefined;
      if (quantity !== undefined && unit !== undefined && OTHER_UNITS[unit] !== undefined) {
        quantity.code = OTHER_UNITS[unit];
        quantity.unit = OTHER_UNITS[unit];
      } else if (quantity !== undefined && pick % 2 === 0) {
        delete quantity.code;
        delete quantity.system;
      }
      break;
    }
    case 'drop-system': {
      const coding = codeOf(resource)?.coding as Json[] | undefined;
      if (coding?.[0] !== undefined) delete coding[0].system;
      break;
    }
    case 'second-coding': {
      const code = codeOf(resource);
      if (code !== undefined) {
        const coding = (code.coding ?? []) as Json[];
        const added = { ...choose(SECOND_CODINGS) };
        code.coding = pick % 2 === 0 ? [...coding, added] : [added, ...coding];
      }
      break;
    }
    case 'text-only': {
      const code = codeOf(resource);
      if (code !== undefined) delete code.coding;
      break;
    }
    case 'duplicate-id':
      resources.push(structuredClone(resource));
      break;
    case 'duplicate-copy':
      resources.push({ ...structuredClone(resource), id: `${resource.id as string}-copy` });
      break;
    case 'birth-date':
      patient.birthDate = choose([
        `${Number(asOf.slice(0, 4)) - 18}${asOf.slice(4)}`,
        daysBefore(`${Number(asOf.slice(0, 4)) - 18}${asOf.slice(4)}`, -1),
        `${Number(asOf.slice(0, 4)) - 70}${asOf.slice(4)}`,
        daysBefore(`${Number(asOf.slice(0, 4)) - 71}${asOf.slice(4)}`, -1),
        `${Number(asOf.slice(0, 4)) - 40}`,
        `${Number(asOf.slice(0, 4)) - 65}-${asOf.slice(5, 7)}`,
        undefined,
      ]);
      if (patient.birthDate === undefined) delete patient.birthDate;
      break;
    case 'gender':
      patient.gender = choose(['female', 'male', 'other', 'unknown', undefined]);
      if (patient.gender === undefined) delete patient.gender;
      break;
  }
}

const mutationArbitrary = fc.record({
  kind: fc.constantFrom(...MUTATIONS),
  target: fc.nat(),
  pick: fc.nat(),
});

const variedPatientArbitrary = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  /** Most varied patients have SLE or SSc, so that the criteria past the diagnosis are reached. */
  withDisease: fc.boolean(),
  mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 10 }),
});

/**
 * Generated patients changed in the ways real records vary, from fast-check with a fixed seed.
 * @param count - how many.
 * @param seed - fast-check's seed.
 * @param asOf - the date the records are current at.
 */
export function variedRecords(count: number, seed: number, asOf: string): OracleRecord[] {
  const samples = fc.sample(variedPatientArbitrary, { seed, numRuns: count });
  return samples.map((sample, index) => {
    let generated = generatePatient(index, seededRandom(sample.seed), asOf);
    for (let retry = 1; sample.withDisease && !generated.hasSle && retry < 20; retry++)
      generated = generatePatient(index, seededRandom(sample.seed + retry), asOf);
    const resources = structuredClone(generated.resources) as unknown as Json[];
    for (const mutation of sample.mutations) mutate(resources, mutation, asOf);
    const name = `varied-${index} (seed ${sample.seed}: ${sample.mutations.map((m) => m.kind).join(', ')})`;
    return {
      name,
      patient: toPatientBundle({
        resourceType: 'Bundle',
        type: 'collection',
        entry: resources.map((resource) => ({ resource })),
      }),
    };
  });
}
