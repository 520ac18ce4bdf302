/**
 * Small hand-built FHIR R4 resources for criterion tests: one builder per resource shape, with the
 * fields real records carry. Dates are relative to AS_OF so that fixtures stay valid.
 */
import type {
  Bundle,
  Condition,
  FhirResource,
  Medication,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
} from 'fhir/r4.js';

export const AS_OF = '2026-11-22';
const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';

/** An ISO date `days` before AS_OF (negative: after). */
export function daysAgo(days: number): string {
  const date = new Date(`${AS_OF}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

export function yearsAgo(years: number): string {
  return `${Number(AS_OF.slice(0, 4)) - years}${AS_OF.slice(4)}`;
}

let counter = 0;
function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

export function patient(
  options: { id?: string; gender?: Patient['gender']; age?: number; birthDate?: string } = {},
): Patient {
  const birthDate =
    options.birthDate ?? (options.age === undefined ? yearsAgo(40) : yearsAgo(options.age));
  return {
    resourceType: 'Patient',
    id: options.id ?? 'pat-1',
    gender: options.gender ?? 'female',
    ...(birthDate === '' ? {} : { birthDate }),
  };
}

export function condition(
  code: { system?: string; code: string; display?: string },
  options: {
    id?: string;
    onset?: string;
    recorded?: string;
    clinicalStatus?: string;
    verificationStatus?: string;
    abatement?: string;
    text?: string;
  } = {},
): Condition {
  return {
    resourceType: 'Condition',
    id: options.id ?? nextId('cond'),
    clinicalStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
          code: options.clinicalStatus ?? 'active',
        },
      ],
    },
    verificationStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
          code: options.verificationStatus ?? 'confirmed',
        },
      ],
    },
    code: {
      coding: [
        {
          system: code.system ?? SNOMED,
          code: code.code,
          ...(code.display ? { display: code.display } : {}),
        },
      ],
      ...(options.text ? { text: options.text } : {}),
    },
    subject: { reference: 'Patient/pat-1' },
    ...(options.onset ? { onsetDateTime: options.onset } : {}),
    ...(options.abatement ? { abatementDateTime: options.abatement } : {}),
    recordedDate: options.recorded ?? options.onset ?? daysAgo(400),
  };
}

export function sle(options: Parameters<typeof condition>[1] = {}): Condition {
  return condition(
    { code: '55464009', display: 'Systemic lupus erythematosus' },
    { onset: yearsAgo(3), ...options },
  );
}

type ObservationValue =
  | { quantity: number; unit: string }
  | { concept: { system?: string; code: string; display?: string } }
  | { integer: number }
  | { string: string };

export function observation(
  loinc: string | { system: string; code: string },
  value: ObservationValue | undefined,
  options: {
    id?: string;
    date?: string;
    status?: Observation['status'];
    high?: { value: number; unit: string };
    category?: string;
    interpretation?: string;
  } = {},
): Observation {
  const coding = typeof loinc === 'string' ? { system: LOINC, code: loinc } : loinc;
  const result: Observation = {
    resourceType: 'Observation',
    id: options.id ?? nextId('obs'),
    status: options.status ?? 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: options.category ?? 'laboratory',
          },
        ],
      },
    ],
    code: { coding: [coding] },
    subject: { reference: 'Patient/pat-1' },
    effectiveDateTime: options.date ?? daysAgo(3),
  };
  if (value !== undefined) {
    if ('quantity' in value)
      result.valueQuantity = {
        value: value.quantity,
        unit: value.unit,
        system: UCUM,
        code: value.unit,
      };
    if ('concept' in value)
      result.valueCodeableConcept = {
        coding: [{ system: value.concept.system ?? SNOMED, code: value.concept.code }],
      };
    if ('integer' in value) result.valueInteger = value.integer;
    if ('string' in value) result.valueString = value.string;
  }
  if (options.high) {
    result.referenceRange = [
      {
        high: {
          value: options.high.value,
          unit: options.high.unit,
          system: UCUM,
          code: options.high.unit,
        },
      },
    ];
  }
  if (options.interpretation) {
    result.interpretation = [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
            code: options.interpretation,
          },
        ],
      },
    ];
  }
  return result;
}

export const POSITIVE = { concept: { code: '10828004', display: 'Positive' } };
export const NEGATIVE = { concept: { code: '260385009', display: 'Negative' } };

export function score(
  code: string,
  value: number,
  options: { date?: string; id?: string } = {},
): Observation {
  return observation(
    { system: 'urn:cds-trial-matcher:code', code },
    { integer: value },
    { category: 'survey', ...options },
  );
}

export function medicationRequest(
  medication: { rxnorm?: string; text: string },
  options: {
    id?: string;
    status?: MedicationRequest['status'];
    start?: string;
    end?: string;
    authoredOn?: string;
    dose?: { value: number; unit?: string };
    frequency?: number;
    period?: number;
    periodUnit?: 'd' | 'wk' | 'h';
  } = {},
): MedicationRequest {
  const start = options.start ?? daysAgo(365);
  return {
    resourceType: 'MedicationRequest',
    id: options.id ?? nextId('medreq'),
    status: options.status ?? 'active',
    intent: 'order',
    medicationCodeableConcept: {
      ...(medication.rxnorm
        ? {
            coding: [
              {
                system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
                code: medication.rxnorm,
                display: medication.text,
              },
            ],
          }
        : {}),
      text: medication.text,
    },
    subject: { reference: 'Patient/pat-1' },
    authoredOn: options.authoredOn ?? start,
    dosageInstruction: [
      {
        timing: {
          repeat: {
            boundsPeriod: { start, ...(options.end ? { end: options.end } : {}) },
            frequency: options.frequency ?? 1,
            period: options.period ?? 1,
            periodUnit: options.periodUnit ?? 'd',
          },
        },
        ...(options.dose
          ? {
              doseAndRate: [
                {
                  doseQuantity: {
                    value: options.dose.value,
                    ...(options.dose.unit
                      ? { unit: options.dose.unit, system: UCUM, code: options.dose.unit }
                      : {}),
                  },
                },
              ],
            }
          : {}),
      },
    ],
  };
}

export function medicationStatement(
  medication: { rxnorm?: string; text: string },
  options: {
    id?: string;
    status?: MedicationStatement['status'];
    start?: string;
    end?: string;
    dose?: { value: number; unit: string };
  } = {},
): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id: options.id ?? nextId('medstmt'),
    status: options.status ?? 'active',
    medicationCodeableConcept: {
      ...(medication.rxnorm
        ? {
            coding: [
              { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: medication.rxnorm },
            ],
          }
        : {}),
      text: medication.text,
    },
    subject: { reference: 'Patient/pat-1' },
    effectivePeriod: {
      start: options.start ?? daysAgo(365),
      ...(options.end ? { end: options.end } : {}),
    },
    ...(options.dose
      ? {
          dosage: [
            {
              doseAndRate: [
                {
                  doseQuantity: {
                    value: options.dose.value,
                    unit: options.dose.unit,
                    system: UCUM,
                    code: options.dose.unit,
                  },
                },
              ],
              timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
            },
          ],
        }
      : {}),
  };
}

/**
 * The builders name `Patient/pat-1` as subject; in a record whose Patient has another id, that
 * default becomes the record's Patient (a record holds one patient's resources: another patient's
 * are left out). A reference written on purpose to another patient is kept.
 */
function ofTheRecordsPatient(resources: readonly FhirResource[]): FhirResource[] {
  const patients = resources.filter((r) => r.resourceType === 'Patient');
  const id = patients.length === 1 ? patients[0]?.id : undefined;
  if (id === undefined || id === 'pat-1') return [...resources];
  return resources.map((resource) => {
    const copy = { ...resource } as Record<string, unknown>;
    for (const element of ['subject', 'patient']) {
      const ref = copy[element] as { reference?: unknown } | undefined;
      if (ref?.reference === 'Patient/pat-1')
        copy[element] = { ...ref, reference: `Patient/${id}` };
    }
    return copy as unknown as FhirResource;
  });
}

export function bundle(...resources: FhirResource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: ofTheRecordsPatient(resources).map((resource) => ({ resource })),
  };
}

/** Body weight (LOINC 29463-7, vital signs) in kg unless `unit` says otherwise. */
export function bodyWeight(
  value: number,
  options: { unit?: string; date?: string; id?: string } = {},
): Observation {
  return observation(
    '29463-7',
    { quantity: value, unit: options.unit ?? 'kg' },
    {
      category: 'vital-signs',
      ...(options.date !== undefined ? { date: options.date } : {}),
      ...(options.id !== undefined ? { id: options.id } : {}),
    },
  );
}

/** A Medication resource, for `medicationReference` fixtures. */
export function medication(id: string, code: { rxnorm?: string; text?: string }): Medication {
  return {
    resourceType: 'Medication',
    id,
    code: {
      ...(code.rxnorm
        ? {
            coding: [
              {
                system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
                code: code.rxnorm,
                ...(code.text ? { display: code.text } : {}),
              },
            ],
          }
        : {}),
      ...(code.text ? { text: code.text } : {}),
    },
  };
}

/**
 * A transaction Bundle as Synthea writes it: resources without ids, `urn:uuid` fullUrls, and
 * references (`Patient/<id>`, `Medication/<id>`) rewritten to the referenced entry's fullUrl.
 */
export function transactionBundle(...given: FhirResource[]): Bundle {
  const resources = ofTheRecordsPatient(given);
  const uuid = (index: number) =>
    `urn:uuid:00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`;
  const byRef = new Map<string, string>();
  resources.forEach((r, index) => {
    if (r.id !== undefined) byRef.set(`${r.resourceType}/${r.id}`, uuid(index));
  });
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, child]) => [
          key,
          key === 'reference' && typeof child === 'string'
            ? (byRef.get(child) ?? child)
            : rewrite(child),
        ]),
      );
    }
    return value;
  };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource, index) => {
      const copy = rewrite(resource) as FhirResource;
      delete copy.id;
      return {
        fullUrl: uuid(index),
        resource: copy,
        request: { method: 'POST', url: resource.resourceType },
      };
    }),
  };
}

/** A dose in mg, for medicationRequest/medicationStatement options. */
export const mg = (value: number) => ({ dose: { value, unit: 'mg' } });

/** A laboratory result with a UCUM unit and, when given, its reference range's upper limit. */
export function lab(loinc: string, value: number, unit: string, high?: number): Observation {
  return observation(
    loinc,
    { quantity: value, unit },
    high === undefined ? {} : { high: { value: high, unit } },
  );
}

/** Medications as records name them (RxNorm ingredient code and text), shared by criterion tests. */
export const HCQ = { rxnorm: '5521', text: 'hydroxychloroquine sulfate 200 MG Oral Tablet' };
export const PREDNISONE = { rxnorm: '8640', text: 'prednisone' };
export const MMF = { rxnorm: '68149', text: 'mycophenolate mofetil 500 MG Oral Tablet' };
export const TACROLIMUS = { rxnorm: '42316', text: 'tacrolimus 1 MG Oral Capsule' };
export const RITUXIMAB = { rxnorm: '121191', text: 'rituximab' };
