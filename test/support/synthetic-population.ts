/**
 * A generated clinic population for benchmarks and tests: deterministic (seeded), varied records in
 * the shapes real ones come in. About a quarter have SLE (SNOMED 55464009, ICD-10-CM M32.x only, or
 * stock Synthea's 200936003), some with lupus nephritis, a few SSc; the rest have everyday
 * conditions. Labs come in conventional or SI units with reference ranges, 1 to 4 results each over
 * two years; medications as MedicationRequest (RxNorm or text only) and MedicationStatement; vital
 * signs, SLEDAI-2K for some, LVEF for a few, and Encounters (which the screener skips).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

type Resource = Record<string, unknown> & { resourceType: string; id: string };

const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** mulberry32: a small seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Lab {
  readonly code: string;
  readonly display: string;
  /** [unit, low, high, typical low, typical high] per unit variant. */
  readonly units: readonly (readonly [string, number, number, number, number])[];
}

const LABS: readonly Lab[] = [
  {
    code: '2160-0',
    display: 'Creatinine [Mass/volume] in Serum or Plasma',
    units: [['mg/dL', 0.5, 1.1, 0.5, 2.2]],
  },
  {
    code: '14682-9',
    display: 'Creatinine [Moles/volume] in Serum or Plasma',
    units: [['umol/L', 45, 97, 45, 190]],
  },
  {
    code: '718-7',
    display: 'Hemoglobin [Mass/volume] in Blood',
    units: [
      ['g/dL', 12, 16, 7.5, 16],
      ['g/L', 120, 160, 75, 160],
    ],
  },
  {
    code: '777-3',
    display: 'Platelets [#/volume] in Blood by Automated count',
    units: [['10*3/uL', 150, 400, 40, 420]],
  },
  {
    code: '6690-2',
    display: 'Leukocytes [#/volume] in Blood by Automated count',
    units: [['10*3/uL', 4, 11, 1.8, 12]],
  },
  {
    code: '751-8',
    display: 'Neutrophils [#/volume] in Blood by Automated count',
    units: [
      ['10*9/L', 1.8, 7.7, 0.6, 8],
      ['10*3/uL', 1.8, 7.7, 0.6, 8],
    ],
  },
  {
    code: '1742-6',
    display: 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma',
    units: [['U/L', 7, 40, 8, 160]],
  },
  {
    code: '1920-8',
    display: 'Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma',
    units: [['U/L', 8, 40, 9, 140]],
  },
  {
    code: '1975-2',
    display: 'Bilirubin.total [Mass/volume] in Serum or Plasma',
    units: [['mg/dL', 0.1, 1.2, 0.2, 3]],
  },
  {
    code: '33914-3',
    display: 'Glomerular filtration rate/1.73 sq M.predicted by Creatinine-based formula (MDRD)',
    units: [['mL/min/{1.73_m2}', 60, 120, 20, 120]],
  },
  {
    code: '6301-6',
    display: 'INR in Platelet poor plasma by Coagulation assay',
    units: [['{INR}', 0.8, 1.2, 0.8, 2.5]],
  },
  {
    code: '5130-0',
    display: 'DNA double strand Ab [Units/volume] in Serum',
    units: [['[IU]/mL', 0, 30, 1, 400]],
  },
];

const MEDS = {
  prednisone: { rxnorm: '8640', text: 'prednisone', mg: [5, 7.5, 10, 15, 20, 40] },
  hydroxychloroquine: { rxnorm: '5521', text: 'hydroxychloroquine', mg: [200, 400] },
  mycophenolate: { rxnorm: '68149', text: 'mycophenolate mofetil', mg: [1000, 1500, 2000] },
  azathioprine: { rxnorm: '1256', text: 'azathioprine', mg: [50, 100, 150] },
  methotrexate: { rxnorm: '6851', text: 'methotrexate', mg: [15, 20] },
  belimumab: { rxnorm: '1118473', text: 'belimumab', mg: [200] },
  rituximab: { rxnorm: '121191', text: 'rituximab', mg: [1000] },
  cyclophosphamide: { rxnorm: '3002', text: 'cyclophosphamide', mg: [500] },
  lisinopril: { rxnorm: '29046', text: 'lisinopril', mg: [10, 20] },
  metformin: { rxnorm: '6809', text: 'metformin', mg: [500, 1000] },
  atorvastatin: { rxnorm: '83367', text: 'atorvastatin', mg: [20, 40] },
} as const;
type MedName = keyof typeof MEDS;

const EVERYDAY: readonly (readonly [string, string])[] = [
  ['38341003', 'Hypertensive disorder'],
  ['44054006', 'Diabetes mellitus type 2'],
  ['195967001', 'Asthma'],
  ['35489007', 'Depressive disorder'],
  ['55822004', 'Hyperlipidemia'],
  ['40055000', 'Chronic sinusitis'],
  ['233604007', 'Pneumonia'],
  ['431857002', 'Chronic kidney disease stage 4'],
  ['66071002', 'Viral hepatitis type B'],
  ['86406008', 'Human immunodeficiency virus infection'],
  ['363346000', 'Malignant neoplastic disease'],
];

export interface GeneratedPatient {
  readonly id: string;
  readonly hasSle: boolean;
  readonly resources: readonly Resource[];
}

/**
 * One patient's resources.
 * @param index - its number (ids are `gen-<index>`).
 * @param random - the population's PRNG.
 * @param asOf - the date the record is current at (YYYY-MM-DD).
 */
export function generatePatient(
  index: number,
  random: () => number,
  asOf: string,
): GeneratedPatient {
  const id = `gen-${String(index).padStart(6, '0')}`;
  const ref = { reference: `Patient/${id}` };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const between = (low: number, high: number): number => low + random() * (high - low);
  const now = Date.parse(`${asOf}T00:00:00Z`);
  const daysAgo = (days: number): string =>
    new Date(now - Math.round(days) * 86_400_000).toISOString().slice(0, 10);
  let n = 0;
  const nextId = (prefix: string): string => `${id}-${prefix}${++n}`;

  const hasSle = random() < 0.25;
  const hasSsc = !hasSle && random() < 0.04;
  const female = hasSle ? random() < 0.9 : random() < 0.52;
  const age = hasSle || hasSsc ? Math.round(between(16, 72)) : Math.round(between(12, 92));
  const resources: Resource[] = [
    {
      resourceType: 'Patient',
      id,
      gender: female ? 'female' : 'male',
      birthDate: daysAgo(age * 365.25 + between(0, 360)),
      name: [{ family: `Synthetic${index}`, given: ['Test'] }],
    },
  ];
  const condition = (system: string, code: string, display: string, onsetDays: number): void => {
    resources.push({
      resourceType: 'Condition',
      id: nextId('c'),
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
            code: random() < 0.9 ? 'active' : 'resolved',
          },
        ],
      },
      verificationStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
            code: 'confirmed',
          },
        ],
      },
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/condition-category',
              code: 'problem-list-item',
            },
          ],
        },
      ],
      code: { coding: [{ system, code, display }], text: display },
      subject: ref,
      onsetDateTime: daysAgo(onsetDays),
      recordedDate: daysAgo(onsetDays - 10),
    });
  };
  const observation = (
    code: { system: string; code: string; display: string },
    value: Record<string, unknown>,
    category: string,
    days: number,
    extra: Record<string, unknown> = {},
  ): void => {
    resources.push({
      resourceType: 'Observation',
      id: nextId('o'),
      status: random() < 0.98 ? 'final' : 'entered-in-error',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/observation-category',
              code: category,
            },
          ],
        },
      ],
      code: { coding: [code], text: code.display },
      subject: ref,
      effectiveDateTime: `${daysAgo(days)}T09:30:00Z`,
      ...value,
      ...extra,
    });
  };
  const medication = (name: MedName, startDays: number, statement: boolean): void => {
    const med = MEDS[name];
    const concept =
      random() < 0.85
        ? { coding: [{ system: RXNORM, code: med.rxnorm, display: med.text }], text: med.text }
        : { text: `${med.text} oral tablet` };
    const dose = pick(med.mg);
    const doseAndRate = [{ doseQuantity: { value: dose, unit: 'mg', system: UCUM, code: 'mg' } }];
    const ended = random() < 0.2 ? { end: daysAgo(startDays / 3) } : {};
    if (statement) {
      resources.push({
        resourceType: 'MedicationStatement',
        id: nextId('ms'),
        status: 'end' in ended ? 'completed' : 'active',
        medicationCodeableConcept: concept,
        subject: ref,
        effectivePeriod: { start: daysAgo(startDays), ...ended },
        dosage: [{ timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } }, doseAndRate }],
      });
    } else {
      resources.push({
        resourceType: 'MedicationRequest',
        id: nextId('mr'),
        status: 'end' in ended ? 'completed' : 'active',
        intent: 'order',
        medicationCodeableConcept: concept,
        subject: ref,
        authoredOn: daysAgo(startDays),
        dosageInstruction: [
          {
            timing: {
              repeat: {
                boundsPeriod: { start: daysAgo(startDays), ...ended },
                frequency: 1,
                period: 1,
                periodUnit: 'd',
              },
            },
            doseAndRate,
          },
        ],
      });
    }
  };

  // Conditions
  if (hasSle) {
    const onset = between(120, 6000);
    const coding = random();
    if (coding < 0.6) condition(SNOMED, '55464009', 'Systemic lupus erythematosus', onset);
    else if (coding < 0.85)
      condition(ICD10, 'M32.14', 'Glomerular disease in systemic lupus erythematosus', onset);
    else condition(SNOMED, '200936003', 'Lupus erythematosus', onset);
    if (random() < 0.3)
      condition(SNOMED, pick(['76521009', '36402006', '68815009']), 'Lupus nephritis', onset / 2);
  }
  if (hasSsc) {
    condition(SNOMED, '89155008', 'Systemic sclerosis', between(300, 4000));
    if (random() < 0.5)
      condition(SNOMED, '233703007', 'Interstitial lung disease', between(100, 1500));
  }
  const everyday = Math.floor(random() * (age > 50 ? 5 : 3));
  for (let i = 0; i < everyday; i++) {
    const [code, display] = random() < 0.9 ? pick(EVERYDAY.slice(0, 6)) : pick(EVERYDAY.slice(6));
    condition(SNOMED, code, display, between(30, 5000));
  }

  // Labs: more for patients followed for a rheumatic disease
  const followed = hasSle || hasSsc || random() < 0.3;
  for (const lab of LABS) {
    if (!followed && random() < 0.5) continue;
    if (lab.code === '5130-0' && !hasSle && random() < 0.9) continue;
    const [unit, low, high, typicalLow, typicalHigh] = pick(lab.units);
    const results = 1 + Math.floor(random() * (followed ? 4 : 2));
    for (let r = 0; r < results; r++) {
      const value = Math.round(between(typicalLow, typicalHigh) * 100) / 100;
      observation(
        { system: LOINC, code: lab.code, display: lab.display },
        { valueQuantity: { value, unit, system: UCUM, code: unit } },
        'laboratory',
        between(5, 730),
        {
          referenceRange: [
            {
              low: { value: low, unit, system: UCUM, code: unit },
              high: { value: high, unit, system: UCUM, code: unit },
            },
          ],
        },
      );
    }
  }
  if (hasSle || random() < 0.1) {
    const positive = hasSle ? random() < 0.95 : random() < 0.1;
    observation(
      { system: LOINC, code: '8061-4', display: 'Nuclear Ab [Presence] in Serum' },
      {
        valueCodeableConcept: {
          coding: [
            {
              system: SNOMED,
              code: positive ? '10828004' : '260385009',
              display: positive ? 'Positive' : 'Negative',
            },
          ],
        },
      },
      'laboratory',
      between(30, 2000),
    );
  }
  if (female && age >= 14 && age <= 50 && random() < 0.5) {
    const value = random() < 0.04 ? between(50, 5000) : between(0, 4);
    observation(
      {
        system: LOINC,
        code: '21198-7',
        display: 'Choriogonadotropin.beta subunit [Units/volume] in Serum or Plasma',
      },
      {
        valueQuantity: {
          value: Math.round(value * 10) / 10,
          unit: 'm[IU]/mL',
          system: UCUM,
          code: 'm[IU]/mL',
        },
      },
      'laboratory',
      between(1, 60),
    );
  }
  // Vital signs
  for (let v = 0; v < 1 + Math.floor(random() * 4); v++) {
    const days = between(1, 700);
    observation(
      { system: LOINC, code: '29463-7', display: 'Body weight' },
      {
        valueQuantity: {
          value: Math.round(between(45, 115) * 10) / 10,
          unit: 'kg',
          system: UCUM,
          code: 'kg',
        },
      },
      'vital-signs',
      days,
    );
    observation(
      { system: LOINC, code: '8867-4', display: 'Heart rate' },
      {
        valueQuantity: {
          value: Math.round(between(55, 100)),
          unit: '/min',
          system: UCUM,
          code: '/min',
        },
      },
      'vital-signs',
      days,
    );
  }
  if (hasSle && random() < 0.7) {
    observation(
      { system: 'urn:cds-trial-matcher:code', code: 'SLEDAI-2K', display: 'SLEDAI-2K total score' },
      { valueInteger: Math.floor(between(0, 20)) },
      'survey',
      between(5, 200),
    );
  }
  if ((hasSle || hasSsc) && random() < 0.4) {
    observation(
      { system: LOINC, code: '10230-1', display: 'Left ventricular Ejection fraction' },
      { valueQuantity: { value: Math.round(between(35, 70)), unit: '%', system: UCUM, code: '%' } },
      'imaging',
      between(10, 400),
    );
  }

  // Medications
  const meds: MedName[] = [];
  if (hasSle) {
    meds.push('hydroxychloroquine');
    if (random() < 0.7) meds.push('prednisone');
    if (random() < 0.5) meds.push(pick(['mycophenolate', 'azathioprine', 'methotrexate'] as const));
    if (random() < 0.25) meds.push(pick(['belimumab', 'rituximab', 'cyclophosphamide'] as const));
  } else if (hasSsc) {
    meds.push(pick(['mycophenolate', 'methotrexate'] as const));
  }
  if (age > 45 && random() < 0.4)
    meds.push(pick(['lisinopril', 'metformin', 'atorvastatin'] as const));
  for (const name of meds) medication(name, between(60, 2000), random() < 0.3);

  // Encounters: present in real exports, never read by the criteria
  for (let e = 0; e < 1 + Math.floor(random() * 5); e++) {
    resources.push({
      resourceType: 'Encounter',
      id: nextId('e'),
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: ref,
      period: { start: `${daysAgo(between(1, 700))}T09:00:00Z` },
    });
  }
  return { id, hasSle, resources };
}

/** One collection Bundle of a generated patient. */
export function toBundle(patient: GeneratedPatient): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: patient.resources.map((resource) => ({ resource })),
  };
}

/**
 * Writes a generated population as a Bulk Data export: one NDJSON file per resource type, streamed.
 * @param dir - created if needed.
 * @param count - patients.
 * @param options - PRNG seed and the date the records are current at.
 * @returns how many patients have SLE.
 */
export async function writeNdjsonPopulation(
  dir: string,
  count: number,
  options: { seed?: number; asOf: string },
): Promise<{ patients: number; withSle: number; resources: number }> {
  mkdirSync(dir, { recursive: true });
  const random = seededRandom(options.seed ?? 42);
  const streams = new Map<string, WriteStream>();
  let withSle = 0;
  let resources = 0;
  const write = async (stream: WriteStream, text: string): Promise<void> => {
    if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
  };
  for (let i = 1; i <= count; i++) {
    const patient = generatePatient(i, random, options.asOf);
    if (patient.hasSle) withSle++;
    for (const resource of patient.resources) {
      let stream = streams.get(resource.resourceType);
      if (stream === undefined) {
        stream = createWriteStream(join(dir, `${resource.resourceType}.ndjson`));
        streams.set(resource.resourceType, stream);
      }
      await write(stream, `${JSON.stringify(resource)}\n`);
      resources++;
    }
  }
  await Promise.all(
    [...streams.values()].map(
      (s) =>
        new Promise<void>((resolve, reject) =>
          s.end((error?: Error | null) => {
            if (error) reject(error);
            else resolve();
          }),
        ),
    ),
  );
  return { patients: count, withSle, resources };
}
