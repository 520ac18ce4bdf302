/**
 * Clinical rules read as a rheumatologist reads the seed texts (issue 13): one minimal record per
 * outcome of each rule, in the shapes EHRs send.
 */
import type {
  AllergyIntolerance,
  Condition,
  MedicationRequest,
  Observation,
  Procedure,
} from 'fhir/r4.js';
import { readFileSync } from 'node:fs';
import { trialScreener } from '../support/trial-screener.js';
import {
  PREDNISONE,
  bodyWeight,
  condition,
  daysAgo,
  lab,
  medicationRequest,
  mg,
  observation,
  patient,
  score,
  sle,
} from '../support/fhir-builders.js';

const IM19 = trialScreener('NCT06513429');
const CT1195E = trialScreener('NCT07339332');
const MC150 = trialScreener('NCT06892145');
const BCMA = trialScreener('NCT06349343');

const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';

describe('negative serum beta-hCG: blood tests only', () => {
  const woman = patient({ gender: 'female', age: 30 });
  it('a pregnancy status (82810-3 "not pregnant") is not a test: unknown', async () => {
    expect(
      await CT1195E.result(
        'negative-pregnancy-test',
        woman,
        observation(
          '82810-3',
          { concept: { code: '60001007' } },
          { date: daysAgo(1), category: 'social-history' },
        ),
      ),
    ).toBe('unknown');
  });
  it('a negative urine hCG (2106-3) is not a serum test: unknown', async () => {
    expect(
      await CT1195E.result(
        'negative-pregnancy-test',
        woman,
        observation('2106-3', { string: 'NEGATIVE' }, { date: daysAgo(1) }),
      ),
    ).toBe('unknown');
  });
  it('a negative qualitative serum hCG (2118-8, valueString) passes', async () => {
    expect(
      await CT1195E.result(
        'negative-pregnancy-test',
        woman,
        observation('2118-8', { string: 'NEGATIVE' }, { date: daysAgo(1) }),
      ),
    ).toBe('pass');
  });
  it('a quantitative serum beta-hCG of 40 mIU/mL (19080-1) fails', async () => {
    expect(
      await CT1195E.result(
        'negative-pregnancy-test',
        woman,
        observation('19080-1', { quantity: 40, unit: 'm[IU]/mL' }, { date: daysAgo(1) }),
      ),
    ).toBe('fail');
  });
});

describe('no systemic active infection within 2 weeks: by hierarchy', () => {
  const infection = (code: { system?: string; code: string }, onset = daysAgo(5)): Condition =>
    condition(code, { id: 'inf', onset });
  it('ICD-10-CM J18.9 pneumonia fails', async () => {
    expect(
      await CT1195E.result('no-active-infection', infection({ system: ICD10, code: 'J18.9' })),
    ).toBe('fail');
  });
  it('ICD-10-CM J15.9 bacterial pneumonia fails', async () => {
    expect(
      await CT1195E.result('no-active-infection', infection({ system: ICD10, code: 'J15.9' })),
    ).toBe('fail');
  });
  it('ICD-10-CM U07.1 COVID-19 fails', async () => {
    expect(
      await CT1195E.result('no-active-infection', infection({ system: ICD10, code: 'U07.1' })),
    ).toBe('fail');
  });
  it('ICD-10-CM A41.9 sepsis fails', async () => {
    expect(
      await CT1195E.result('no-active-infection', infection({ system: ICD10, code: 'A41.9' })),
    ).toBe('fail');
  });
  it('SNOMED 840539006 COVID-19 fails', async () => {
    expect(await CT1195E.result('no-active-infection', infection({ code: '840539006' }))).toBe(
      'fail',
    );
  });
  it('SNOMED 385093006 community acquired pneumonia (a descendant of pneumonia) fails', async () => {
    expect(await CT1195E.result('no-active-infection', infection({ code: '385093006' }))).toBe(
      'fail',
    );
  });
  it('a pneumonia whose onset is after the screening date does not count', async () => {
    expect(
      await CT1195E.result('no-active-infection', {
        ...infection({ system: ICD10, code: 'J18.9' }, daysAgo(-5)),
        recordedDate: daysAgo(-5),
      }),
    ).toBe('pass');
  });
  it('a non-infectious condition (essential hypertension I10) passes', async () => {
    expect(
      await CT1195E.result('no-active-infection', infection({ system: ICD10, code: 'I10' })),
    ).toBe('pass');
  });
});

describe('severe immune thrombocytopenia by the platelet count (CT1195E)', () => {
  const itp = condition({ system: ICD10, code: 'D69.3' }, { id: 'itp', onset: daysAgo(200) });
  const low = (value: number): Observation => lab('777-3', value, '10*9/L');
  it('ITP with platelets 20 x10^9/L is severe organ dysfunction: passes', async () => {
    expect(
      await CT1195E.result('sledai-7-or-organ-dysfunction', itp, low(20), score('SLEDAI-2K', 4)),
    ).toBe('pass');
  });
  it('ITP with platelets 150 x10^9/L is not severe: SLEDAI 4 fails', async () => {
    expect(
      await CT1195E.result('sledai-7-or-organ-dysfunction', itp, low(150), score('SLEDAI-2K', 4)),
    ).toBe('fail');
  });
  it('ITP without a platelet count: unknown', async () => {
    expect(await CT1195E.result('sledai-7-or-organ-dysfunction', itp, score('SLEDAI-2K', 4))).toBe(
      'unknown',
    );
  });
});

describe('ANC / Hb without transfusion or growth factor in the 7 days before', () => {
  const anc = (): Observation => lab('751-8', 1.5, '10*9/L');
  const hb = (): Observation => lab('718-7', 8.0, 'g/dL');
  const filgrastim = (start: string): MedicationRequest =>
    medicationRequest(
      { text: 'filgrastim 480 MCG/0.8ML Injection' },
      { start, end: start, status: 'completed', dose: { value: 480, unit: 'ug' } },
    );
  const transfusion = (date: string): Procedure => ({
    resourceType: 'Procedure',
    id: 'tx',
    status: 'completed',
    code: {
      coding: [
        {
          system: 'http://snomed.info/sct',
          code: '116863004',
          display: 'Transfusion of red blood cells',
        },
      ],
    },
    subject: { reference: 'Patient/pat-1' },
    performedDateTime: date,
  });
  it('ANC 1.5 passes without a growth factor', async () => {
    expect(await CT1195E.result('anc', anc())).toBe('pass');
  });
  it('ANC 1.5 two days after filgrastim is unknown', async () => {
    expect(await CT1195E.result('anc', anc(), filgrastim(daysAgo(5)))).toBe('unknown');
  });
  it('filgrastim a month before the ANC does not matter', async () => {
    expect(await CT1195E.result('anc', anc(), filgrastim(daysAgo(40)))).toBe('pass');
  });
  it('Hb 80 g/L two days after a red cell transfusion is unknown', async () => {
    expect(await CT1195E.result('hemoglobin', hb(), transfusion(daysAgo(5)))).toBe('unknown');
  });
  it('Hb 80 g/L without transfusion passes', async () => {
    expect(await CT1195E.result('hemoglobin', hb())).toBe('pass');
  });
});

describe('SpO2 on room air', () => {
  const spo2 = (onOxygen: boolean): Observation => ({
    ...observation('59408-5', { quantity: 96, unit: '%' }, { category: 'vital-signs' }),
    ...(onOxygen
      ? {
          component: [
            {
              code: { coding: [{ system: 'http://loinc.org', code: '3151-8' }] },
              valueQuantity: {
                value: 2,
                unit: 'L/min',
                system: 'http://unitsofmeasure.org',
                code: 'L/min',
              },
            },
          ],
        }
      : {}),
  });
  it('96 % on room air passes', async () => {
    expect(await MC150.result('spo2', spo2(false))).toBe('pass');
  });
  it('96 % on 2 L/min of oxygen is unknown', async () => {
    expect(await MC150.result('spo2', spo2(true))).toBe('unknown');
  });
});

describe('IM19 "steroids (sufficient or shock therapy)" as MC-1-50 reads "sufficient"', () => {
  const pred = (dose: number) =>
    medicationRequest(PREDNISONE, {
      start: '2025-01-01',
      end: '2025-04-01',
      status: 'completed',
      ...mg(dose),
    });
  it('10 mg/day prednisone at 60 kg is not sufficient: fails', async () => {
    expect(await IM19.result('prior-steroids', pred(10), bodyWeight(60))).toBe('fail');
  });
  it('60 mg/day prednisone at 60 kg (1 mg/kg/d) passes', async () => {
    expect(await IM19.result('prior-steroids', pred(60), bodyWeight(60))).toBe('pass');
  });
  it('methylprednisolone 500 mg/day pulse passes without a weight', async () => {
    expect(
      await IM19.result(
        'prior-steroids',
        medicationRequest(
          { rxnorm: '6902', text: 'methylprednisolone 500 MG Injection' },
          {
            start: '2025-01-01',
            end: '2025-01-03',
            status: 'completed',
            ...mg(500),
          },
        ),
      ),
    ).toBe('pass');
  });
  it('10 mg/day without a weight is unknown', async () => {
    expect(await IM19.result('prior-steroids', pred(10))).toBe('unknown');
  });
});

describe('MC-1-50 "or unable to tolerate conventional therapy"', () => {
  const hcqIntolerance: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    id: 'ai-hcq',
    clinicalStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
          code: 'active',
        },
      ],
    },
    verificationStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
          code: 'confirmed',
        },
      ],
    },
    type: 'intolerance',
    category: ['medication'],
    code: {
      coding: [
        {
          system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
          code: '5521',
          display: 'hydroxychloroquine',
        },
      ],
    },
    patient: { reference: 'Patient/pat-1' },
    recordedDate: daysAgo(100),
  };
  it('SLEDAI 4 with a documented intolerance of hydroxychloroquine passes', async () => {
    const c = await MC150.criterion('active-or-intolerant', score('SLEDAI-2K', 4), hcqIntolerance);
    expect(c.result).toBe('pass');
    expect(c.evidence).toContain('AllergyIntolerance/ai-hcq');
  });
  it('a refuted intolerance does not count: unknown', async () => {
    const refuted = {
      ...hcqIntolerance,
      verificationStatus: { coding: [{ code: 'refuted' }] },
    } as AllergyIntolerance;
    expect(await MC150.result('active-or-intolerant', score('SLEDAI-2K', 4), refuted)).toBe(
      'unknown',
    );
  });
  it('SLEDAI 4 without intolerance stays unknown', async () => {
    expect(await MC150.result('active-or-intolerant', score('SLEDAI-2K', 4))).toBe('unknown');
  });
});

describe('a trial whose criteria are unpublished is never eligible (NCT06349343)', () => {
  it('passing both registry checks is needs-review', async () => {
    const trial = await BCMA.screen(patient({ age: 40 }), sle({ onset: '2020-01-01' }));
    expect(trial.criteria.filter((c) => c.result !== 'manual').map((c) => c.result)).toEqual([
      'pass',
      'pass',
    ]);
    expect(trial.status).toBe('needs-review');
  });
});

describe('SLE coded as in remission needs review, it is not ineligibility', () => {
  const remission = sle({ clinicalStatus: 'remission', onset: '2020-01-01' });
  it('IM19 sle-diagnosis is unknown', async () => {
    expect(await IM19.result('sle-diagnosis', remission)).toBe('unknown');
  });
  it('CT1195E sle-6-months is unknown', async () => {
    expect(await CT1195E.result('sle-6-months', remission)).toBe('unknown');
  });
  it('a resolved SLE still fails', async () => {
    expect(await IM19.result('sle-diagnosis', sle({ clinicalStatus: 'resolved' }))).toBe('fail');
  });
});

describe('recency windows for "at screening" criteria', () => {
  it('an ANC from 3 years ago does not decide: unknown, with "repeat" on the criterion', async () => {
    const old = observation(
      '751-8',
      { quantity: 2, unit: '10*9/L' },
      { id: 'old-anc', date: '2023-11-01' },
    );
    const c = await CT1195E.criterion('anc', old);
    expect(c.result).toBe('unknown');
    expect(c.evidence).toEqual(['Observation/old-anc']);
  });
  it('an ANC from last week decides', async () => {
    expect(await CT1195E.result('anc', lab('751-8', 2, '10*9/L'))).toBe('pass');
  });
  it('a SLEDAI-2K from two years ago is unknown', async () => {
    expect(await IM19.result('sledai-10', score('SLEDAI-2K', 12, { date: '2024-11-01' }))).toBe(
      'unknown',
    );
  });
  it('a SLEDAI-2K from two weeks ago decides', async () => {
    expect(await IM19.result('sledai-10', score('SLEDAI-2K', 12, { date: daysAgo(14) }))).toBe(
      'pass',
    );
  });
  it('the resolve text of a windowed criterion says to repeat the test', () => {
    const trial = JSON.parse(readFileSync('cql/trials/NCT07339332.json', 'utf8')) as {
      criteria: { id: string; resolve?: string }[];
    };
    expect(trial.criteria.find((c) => c.id === 'anc')?.resolve).toMatch(/^Repeat /);
  });
});
