/**
 * NCT06822881 (CT1190B, seed 002): two cohorts, SLE and SSc. Every computable criterion passes,
 * fails and (where the record can leave it open) comes out unknown through the real ELM, and the
 * cohort scenarios: a patient ruled out of one cohort is still screened for the other.
 */
import type { FhirResource } from 'fhir/r4.js';
import { trialScreener } from '../support/trial-screener.js';
import {
  NEGATIVE,
  POSITIVE,
  bodyWeight,
  condition,
  daysAgo,
  medicationRequest,
  medicationStatement,
  observation,
  patient,
  score,
  sle,
  yearsAgo,
  HCQ,
  PREDNISONE,
  MMF,
  mg,
  lab,
} from '../support/fhir-builders.js';

const TRIAL = 'NCT06822881';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const PROJECT = 'urn:cds-trial-matcher:code';
type Cohort = 'sle' | 'ssc' | undefined;
const { screen, cohortCriterion: criterion } = trialScreener(TRIAL);

async function result(cohort: Cohort, id: string, ...resources: FhirResource[]): Promise<string> {
  return (await criterion(cohort, id, ...resources)).result;
}

const CYCLOPHOSPHAMIDE = { rxnorm: '3002', text: 'cyclophosphamide' };
const dlco = (value: number, id?: string) =>
  observation(
    { system: PROJECT, code: 'DLCO-PCT-PRED' },
    { quantity: value, unit: '%' },
    { category: 'procedure', ...(id ? { id } : {}) },
  );
const fvc = (value: number, id?: string) =>
  observation(
    '19872-1',
    { quantity: value, unit: '%' },
    { category: 'procedure', ...(id ? { id } : {}) },
  );
const diffuseSSc = (id = 'ssc-1') =>
  condition(
    { code: '89155008', display: 'Systemic sclerosis' },
    { id, onset: yearsAgo(4), text: 'Diffuse cutaneous systemic sclerosis' },
  );
const ild = () => condition({ code: '233703007', display: 'Interstitial lung disease' });

/** Organ function that passes in both cohorts. */
function goodLabs(): FhirResource[] {
  return [
    observation('21198-7', { quantity: 1, unit: 'm[IU]/mL' }, { date: daysAgo(1) }),
    lab('2160-0', 0.8, 'mg/dL'),
    bodyWeight(55),
    lab('751-8', 2.5, '10*9/L'),
    lab('718-7', 11, 'g/dL'),
    lab('1742-6', 30, 'U/L', 40),
    lab('1920-8', 30, 'U/L', 40),
    lab('1975-2', 0.8, 'mg/dL', 1.2),
    lab('6301-6', 1.0, '{INR}', 1.2),
    lab('3173-2', 30, 's', 35),
    lab('5902-2', 12, 's', 13.5),
    observation('59408-5', { quantity: 97, unit: '%' }, { category: 'vital-signs' }),
    observation('10230-1', { quantity: 60, unit: '%' }, { category: 'imaging' }),
  ];
}

/** Refractory diffuse SSc with ILD: every SSc criterion passes; the SLE cohort fails (no SLE). */
function sscPatient(): FhirResource[] {
  return [
    patient({ age: 45, gender: 'female' }),
    diffuseSSc(),
    condition({
      system: ICD10,
      code: 'M34.81',
      display: 'Systemic sclerosis with lung involvement',
    }),
    medicationRequest(PREDNISONE, {
      ...mg(60),
      status: 'completed',
      start: daysAgo(400),
      end: daysAgo(300),
    }),
    medicationRequest(PREDNISONE, { ...mg(10), start: daysAgo(299) }),
    medicationRequest(MMF, { ...mg(2000), start: daysAgo(380) }),
    fvc(65),
    dlco(48),
    ...goodLabs(),
  ];
}

/** Refractory SLE: every SLE criterion passes; the SSc cohort fails (no SSc). */
function slePatient(): FhirResource[] {
  return [
    patient({ age: 35, gender: 'female' }),
    sle(),
    condition({ code: '36402006', display: 'Lupus nephritis - WHO Class IV' }),
    medicationRequest(PREDNISONE, { ...mg(10), start: daysAgo(365) }),
    medicationRequest(MMF, { ...mg(1000), start: daysAgo(300) }),
    observation('8061-4', POSITIVE),
    score('SLEDAI-2K', 10),
    ...goodLabs(),
  ];
}

describe('NCT06822881 cohort scenarios', () => {
  it('an SSc patient is eligible for the SSc cohort although every SLE criterion fails', async () => {
    const trial = await screen(...sscPatient());
    const ssc = trial.criteria.filter((c) => c.cohort === 'ssc');
    expect(ssc.filter((c) => c.result !== 'pass')).toEqual([]);
    expect(trial.criteria.find((c) => c.cohort === 'sle' && c.id === 'sle-6-months')?.result).toBe(
      'fail',
    );
    expect(trial.status).toBe('eligible');
    expect(trial.cohorts).toEqual(['ssc']);
  });

  it('an SLE patient is eligible for the SLE cohort, not the SSc cohort', async () => {
    const trial = await screen(...slePatient());
    const notPassing = trial.criteria.filter((c) => c.cohort !== 'ssc' && c.result !== 'pass');
    expect(notPassing.map((c) => [c.id, c.result])).toEqual([
      ['informed-consent', 'manual'],
      ['contraception', 'manual'],
    ]);
    expect(trial.status).toBe('eligible');
    expect(trial.cohorts).toEqual(['sle']);
  });

  it('an SSc patient whose subtype is not recorded needs review, in the SSc cohort only', async () => {
    const [pat, , ...rest] = sscPatient();
    const unspecified = condition({ code: '89155008', display: 'Systemic sclerosis' });
    const trial = await screen(pat as FhirResource, unspecified, ...rest);
    expect(trial.status).toBe('needs-review');
    expect(trial.cohorts).toEqual(['ssc']);
  });

  it('a general criterion failing rules the patient out of both cohorts', async () => {
    const [, ...rest] = sscPatient();
    const trial = await screen(patient({ age: 61 }), ...rest);
    expect(trial.status).toBe('ineligible');
    expect(trial.cohorts).toEqual([]);
  });

  it('a patient with neither disease is ineligible', async () => {
    const trial = await screen(patient(), ...goodLabs());
    expect(trial.status).toBe('ineligible');
    expect(trial.cohorts).toEqual([]);
  });

  it('lists general criteria without a cohort and the rest under sle or ssc', async () => {
    const trial = await screen(...sscPatient());
    const general = trial.criteria.filter((c) => c.cohort === undefined).map((c) => c.id);
    expect(general).toEqual([
      'informed-consent',
      'age-18-60',
      'no-active-infection',
      'contraception',
      'negative-pregnancy-test',
    ]);
    expect(trial.criteria.filter((c) => c.kind === 'exclusion').map((c) => c.cohort)).toEqual([
      'ssc',
      'ssc',
      'ssc',
    ]);
  });
});

describe('NCT06822881 general criteria', () => {
  describe('age-18-60', () => {
    it('passes at 18 and 60, fails at 61 and 17, is unknown without a birth date', async () => {
      expect(await result(undefined, 'age-18-60', patient({ age: 18 }))).toBe('pass');
      expect(await result(undefined, 'age-18-60', patient({ age: 60 }))).toBe('pass');
      expect(await result(undefined, 'age-18-60', patient({ age: 61 }))).toBe('fail');
      expect(await result(undefined, 'age-18-60', patient({ age: 17 }))).toBe('fail');
      expect(await result(undefined, 'age-18-60', patient({ birthDate: '' }))).toBe('unknown');
    });
  });

  describe('no-active-infection', () => {
    it('passes without infections and fails with active tuberculosis (absence cannot be unknown)', async () => {
      expect(await result(undefined, 'no-active-infection')).toBe('pass');
      const tb = condition({ code: '427099000' }, { id: 'tb', onset: daysAgo(10) });
      const c = await criterion(undefined, 'no-active-infection', tb);
      expect(c.result).toBe('fail');
      expect(c.evidence).toEqual(['Condition/tb']);
    });
  });

  describe('negative-pregnancy-test', () => {
    it('passes with a negative serum beta-hCG, fails with a positive one, is unknown without', async () => {
      const neg = observation('21198-7', { quantity: 1, unit: 'm[IU]/mL' }, { date: daysAgo(1) });
      const pos = observation('2118-8', POSITIVE, { date: daysAgo(1) });
      expect(await result(undefined, 'negative-pregnancy-test', neg)).toBe('pass');
      expect(await result(undefined, 'negative-pregnancy-test', pos)).toBe('fail');
      expect(await result(undefined, 'negative-pregnancy-test')).toBe('unknown');
    });
  });

  it('keeps informed consent and contraception manual', async () => {
    expect(await result(undefined, 'informed-consent')).toBe('manual');
    expect(await result(undefined, 'contraception')).toBe('manual');
  });
});

describe('NCT06822881 SLE cohort', () => {
  describe('sle-6-months', () => {
    it('passes with SLE for 3 years, fails with SLE for 2 months, is unknown with lupus unspecified', async () => {
      expect(await result('sle', 'sle-6-months', sle())).toBe('pass');
      expect(await result('sle', 'sle-6-months', sle({ onset: daysAgo(60) }))).toBe('fail');
      const lupus = condition({ code: '200936003' }, { onset: yearsAgo(3) });
      expect(await result('sle', 'sle-6-months', lupus)).toBe('unknown');
    });
  });

  describe('treatment history', () => {
    it('prior-treatment: passes with prednisone + MMF for a year, fails with prednisone alone, unknown without data', async () => {
      const pred = medicationStatement(PREDNISONE, mg(10));
      const mmf = medicationStatement(MMF, mg(1000));
      expect(await result('sle', 'prior-treatment', pred, mmf)).toBe('pass');
      expect(await result('sle', 'prior-treatment', medicationStatement(PREDNISONE, mg(10)))).toBe(
        'fail',
      );
      expect(await result('sle', 'prior-treatment')).toBe('unknown');
    });
    it('stable-dose: passes when unchanged for months, fails after a change a week ago', async () => {
      expect(await result('sle', 'stable-dose', medicationRequest(PREDNISONE, mg(10)))).toBe(
        'pass',
      );
      const changed = medicationRequest(PREDNISONE, { ...mg(20), start: daysAgo(7) });
      expect(await result('sle', 'stable-dose', changed)).toBe('fail');
      expect(await result('sle', 'stable-dose')).toBe('unknown');
    });
    it('steroid-dose: 7.5 mg/day alone passes, 5 mg/day alone fails, an undosed steroid is unknown', async () => {
      expect(await result('sle', 'steroid-dose', medicationRequest(PREDNISONE, mg(7.5)))).toBe(
        'pass',
      );
      expect(await result('sle', 'steroid-dose', medicationRequest(PREDNISONE, mg(5)))).toBe(
        'fail',
      );
      expect(await result('sle', 'steroid-dose', medicationRequest(PREDNISONE))).toBe('unknown');
    });
  });

  describe('autoantibody-positive', () => {
    it('passes with anti-Smith positive, fails when all are negative, is unknown without results', async () => {
      expect(await result('sle', 'autoantibody-positive', observation('31627-3', POSITIVE))).toBe(
        'pass',
      );
      const negatives = ['8061-4', '31348-6', '31627-3'].map((code) => observation(code, NEGATIVE));
      expect(await result('sle', 'autoantibody-positive', ...negatives)).toBe('fail');
      expect(await result('sle', 'autoantibody-positive')).toBe('unknown');
    });
  });

  describe('sledai-7', () => {
    it('passes with 7, fails with 6 even with lupus nephritis (no organ-dysfunction alternative here)', async () => {
      expect(await result('sle', 'sledai-7', score('SLEDAI-2K', 7, { id: 's7' }))).toBe('pass');
      const ln = condition({ code: '36402006' });
      expect(await result('sle', 'sledai-7', score('SLEDAI-2K', 6), ln)).toBe('fail');
    });
    it('is unknown without a score', async () => {
      expect(await result('sle', 'sledai-7')).toBe('unknown');
    });
  });

  describe('active-organ-involvement', () => {
    it('passes with lupus nephritis, is unknown without coded organ involvement (cannot fail)', async () => {
      expect(await result('sle', 'active-organ-involvement', condition({ code: '68815009' }))).toBe(
        'pass',
      );
      expect(await result('sle', 'active-organ-involvement', sle())).toBe('unknown');
    });
  });

  describe('organ function', () => {
    it('creatinine-clearance: >= 50 passes, 35 fails, no weight is unknown', async () => {
      expect(
        await result('sle', 'creatinine-clearance', lab('2160-0', 0.8, 'mg/dL'), bodyWeight(60)),
      ).toBe('pass');
      expect(
        await result('sle', 'creatinine-clearance', lab('14682-9', 177, 'umol/L'), bodyWeight(60)),
      ).toBe('fail');
      expect(await result('sle', 'creatinine-clearance', lab('2160-0', 0.8, 'mg/dL'))).toBe(
        'unknown',
      );
    });
    it('anc: 1.0 x 10^3/uL passes, 0.9 x 10^9/L fails, none is unknown', async () => {
      expect(await result('sle', 'anc', lab('751-8', 1.0, '10*3/uL'))).toBe('pass');
      expect(await result('sle', 'anc', lab('751-8', 0.9, '10*9/L'))).toBe('fail');
      expect(await result('sle', 'anc')).toBe('unknown');
    });
    it('hemoglobin: 75 g/L passes for SLE (>= 60) but fails for SSc (>= 90)', async () => {
      const hb = lab('718-7', 7.5, 'g/dL');
      const trial = await screen(hb);
      const of = (cohort: string) =>
        trial.criteria.find((c) => c.id === 'hemoglobin' && c.cohort === cohort)?.result;
      expect([of('sle'), of('ssc')]).toEqual(['pass', 'fail']);
      expect(await result('sle', 'hemoglobin', lab('718-7', 55, 'g/L'))).toBe('fail');
      expect(await result('sle', 'hemoglobin')).toBe('unknown');
    });
    it('liver-enzymes: within 2 x ULN passes, ALT 3 x ULN fails, no AST is unknown', async () => {
      const ast = lab('1920-8', 30, 'U/L', 40);
      expect(await result('sle', 'liver-enzymes', lab('1742-6', 70, 'U/L', 40), ast)).toBe('pass');
      expect(await result('sle', 'liver-enzymes', lab('1742-6', 120, 'U/L', 40), ast)).toBe('fail');
      expect(await result('sle', 'liver-enzymes', lab('1742-6', 30, 'U/L', 40))).toBe('unknown');
    });
    it('bilirubin: 30 umol/L (own ULN 21) passes, 3 mg/dL fails, none is unknown', async () => {
      expect(await result('sle', 'bilirubin', lab('14631-6', 30, 'umol/L', 21))).toBe('pass');
      expect(await result('sle', 'bilirubin', lab('1975-2', 3, 'mg/dL'))).toBe('fail');
      expect(await result('sle', 'bilirubin')).toBe('unknown');
    });
    it('coagulation: INR or APTT within 1.5 x ULN suffices', async () => {
      const highInr = lab('6301-6', 2.5, '{INR}', 1.2);
      expect(await result('sle', 'coagulation', highInr, lab('3173-2', 30, 's', 35))).toBe('pass');
      expect(await result('sle', 'coagulation', highInr, lab('3173-2', 60, 's', 35))).toBe('fail');
      expect(await result('sle', 'coagulation', lab('6301-6', 2.5, '{INR}', 1.2))).toBe('unknown');
    });
    it('spo2: 92% passes, 91% fails, none is unknown', async () => {
      expect(await result('sle', 'spo2', lab('59408-5', 92, '%'))).toBe('pass');
      expect(await result('sle', 'spo2', lab('59408-5', 91, '%'))).toBe('fail');
      expect(await result('sle', 'spo2')).toBe('unknown');
    });
  });
});

describe('NCT06822881 SSc cohort', () => {
  describe('ssc-diffuse', () => {
    it('passes with SSc whose text says diffuse cutaneous, and cites it', async () => {
      const c = await criterion('ssc', 'ssc-diffuse', diffuseSSc('d1'));
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Condition/d1']);
    });
    it('passes with the project code a site maps its diffuse SSc code onto', async () => {
      const mapped = condition({ system: PROJECT, code: 'SSC-DIFFUSE' }, { onset: yearsAgo(2) });
      expect(await result('ssc', 'ssc-diffuse', mapped)).toBe('pass');
    });
    it('fails with CREST (ICD-10-CM M34.1) or limited cutaneous SSc, and without SSc', async () => {
      expect(await result('ssc', 'ssc-diffuse', condition({ system: ICD10, code: 'M34.1' }))).toBe(
        'fail',
      );
      const limited = condition(
        { code: '89155008' },
        { text: 'Limited cutaneous systemic sclerosis' },
      );
      expect(await result('ssc', 'ssc-diffuse', limited)).toBe('fail');
      expect(await result('ssc', 'ssc-diffuse')).toBe('fail');
    });
    it('ignores refuted and resolved SSc', async () => {
      const refuted = condition(
        { code: '89155008' },
        { text: 'Diffuse systemic sclerosis', verificationStatus: 'refuted' },
      );
      expect(await result('ssc', 'ssc-diffuse', refuted)).toBe('fail');
    });
    it('is unknown with SSc of unstated subtype (SNOMED or ICD-10-CM M34.9), or conflicting subtypes', async () => {
      expect(await result('ssc', 'ssc-diffuse', condition({ code: '89155008' }))).toBe('unknown');
      expect(await result('ssc', 'ssc-diffuse', condition({ system: ICD10, code: 'M34.9' }))).toBe(
        'unknown',
      );
      const crest = condition({ system: ICD10, code: 'M34.1' });
      expect(await result('ssc', 'ssc-diffuse', diffuseSSc(), crest)).toBe('unknown');
    });
  });

  describe('ssc-ild', () => {
    it('passes with SSc lung involvement (M34.81), and with ILD recorded beside SSc', async () => {
      expect(await result('ssc', 'ssc-ild', condition({ system: ICD10, code: 'M34.81' }))).toBe(
        'pass',
      );
      expect(await result('ssc', 'ssc-ild', diffuseSSc(), ild())).toBe('pass');
    });
    it('leaves SSc diagnosis criteria to a clinician when SSc is only provisional (issue 12)', async () => {
      const provisional = condition(
        { code: '89155008', display: 'Systemic sclerosis' },
        {
          onset: yearsAgo(4),
          text: 'Diffuse cutaneous systemic sclerosis',
          verificationStatus: 'provisional',
        },
      );
      expect(await result('ssc', 'ssc-diffuse', provisional)).toBe('unknown');
      expect(await result('ssc', 'ssc-ild', provisional, ild())).toBe('unknown');
    });
    it('is unknown with SSc and no ILD on record (absence is not evidence), and fails with ILD without SSc', async () => {
      expect(await result('ssc', 'ssc-ild', diffuseSSc())).toBe('unknown');
      expect(await result('ssc', 'ssc-ild', ild())).toBe('fail');
    });
  });

  describe('refractory-or-progressive', () => {
    it('passes with prednisone 60 mg/day at 55 kg (> 1 mg/kg) and mycophenolate for over 6 months', async () => {
      const c = await criterion(
        'ssc',
        'refractory-or-progressive',
        medicationRequest(PREDNISONE, { id: 'p60', ...mg(60), start: daysAgo(300) }),
        medicationRequest(MMF, { id: 'mmf', ...mg(2000), start: daysAgo(300) }),
        bodyWeight(55, { id: 'wt' }),
      );
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual([
        'MedicationRequest/mmf',
        'MedicationRequest/p60',
        'Observation/wt',
      ]);
    });
    it('passes with cyclophosphamide and hydroxychloroquine for a year (no weight needed)', async () => {
      expect(
        await result(
          'ssc',
          'refractory-or-progressive',
          medicationStatement(CYCLOPHOSPHAMIDE, { start: daysAgo(365), end: daysAgo(180) }),
          medicationStatement(HCQ, mg(400)),
        ),
      ).toBe('pass');
    });
    it('fails with prednisone 40 mg/day at 55 kg (< 1 mg/kg) and no cyclophosphamide', async () => {
      expect(
        await result(
          'ssc',
          'refractory-or-progressive',
          medicationRequest(PREDNISONE, mg(40)),
          medicationRequest(MMF, mg(2000)),
          bodyWeight(55),
        ),
      ).toBe('fail');
    });
    it('fails without an immunomodulator, and with under 6 months of treatment', async () => {
      expect(
        await result(
          'ssc',
          'refractory-or-progressive',
          medicationRequest(CYCLOPHOSPHAMIDE, { start: daysAgo(300) }),
        ),
      ).toBe('fail');
      expect(
        await result(
          'ssc',
          'refractory-or-progressive',
          medicationRequest(CYCLOPHOSPHAMIDE, { start: daysAgo(90) }),
          medicationRequest(MMF, { ...mg(2000), start: daysAgo(90) }),
        ),
      ).toBe('fail');
    });
    it('is unknown without medication data, or with a high steroid dose but no weight', async () => {
      expect(await result('ssc', 'refractory-or-progressive')).toBe('unknown');
      expect(
        await result(
          'ssc',
          'refractory-or-progressive',
          medicationRequest(PREDNISONE, mg(60)),
          medicationRequest(MMF, mg(2000)),
        ),
      ).toBe('unknown');
    });
  });

  describe('organ function', () => {
    it('creatinine-clearance: pass, fail and unknown', async () => {
      expect(
        await result('ssc', 'creatinine-clearance', lab('2160-0', 0.8, 'mg/dL'), bodyWeight(60)),
      ).toBe('pass');
      expect(
        await result('ssc', 'creatinine-clearance', lab('2160-0', 2.0, 'mg/dL'), bodyWeight(60)),
      ).toBe('fail');
      expect(await result('ssc', 'creatinine-clearance')).toBe('unknown');
    });
    it('anc: pass, fail and unknown', async () => {
      expect(await result('ssc', 'anc', lab('751-8', 1.0, '10*9/L'))).toBe('pass');
      expect(await result('ssc', 'anc', lab('751-8', 0.5, '10*3/uL'))).toBe('fail');
      expect(await result('ssc', 'anc')).toBe('unknown');
    });
    it('hemoglobin: 9.0 g/dL passes, 85 g/L fails, none is unknown', async () => {
      expect(await result('ssc', 'hemoglobin', lab('718-7', 9.0, 'g/dL'))).toBe('pass');
      expect(await result('ssc', 'hemoglobin', lab('718-7', 85, 'g/L'))).toBe('fail');
      expect(await result('ssc', 'hemoglobin')).toBe('unknown');
    });
    it('liver-enzymes and bilirubin: pass, fail and unknown', async () => {
      const ast = lab('1920-8', 30, 'U/L', 40);
      expect(await result('ssc', 'liver-enzymes', lab('1742-6', 80, 'U/L', 40), ast)).toBe('pass');
      expect(await result('ssc', 'liver-enzymes', lab('1742-6', 81, 'U/L', 40), ast)).toBe('fail');
      expect(await result('ssc', 'liver-enzymes')).toBe('unknown');
      expect(await result('ssc', 'bilirubin', lab('1975-2', 2.4, 'mg/dL', 1.2))).toBe('pass');
      expect(await result('ssc', 'bilirubin', lab('1975-2', 2.5, 'mg/dL', 1.2))).toBe('fail');
      expect(await result('ssc', 'bilirubin')).toBe('unknown');
    });
    it('coagulation: INR and PT must both be within 1.5 x ULN', async () => {
      const inr = lab('6301-6', 1.1, '{INR}', 1.2);
      expect(await result('ssc', 'coagulation', inr, lab('5902-2', 14, 's', 13.5))).toBe('pass');
      expect(await result('ssc', 'coagulation', inr, lab('5902-2', 25, 's', 13.5))).toBe('fail');
      // a normal APTT does not make up for a missing PT in this cohort
      expect(await result('ssc', 'coagulation', inr, lab('3173-2', 30, 's', 35))).toBe('unknown');
    });
    it('lvef: 40% passes, 35% fails, none is unknown', async () => {
      expect(await result('ssc', 'lvef', lab('10230-1', 40, '%'))).toBe('pass');
      expect(await result('ssc', 'lvef', lab('10230-1', 35, '%'))).toBe('fail');
      expect(await result('ssc', 'lvef')).toBe('unknown');
    });
  });

  describe('fvc-dlco-above-30 (exclusion)', () => {
    it('passes with FVC 65% and Hb-corrected DLCO 48% predicted, and cites both', async () => {
      const c = await criterion('ssc', 'fvc-dlco-above-30', fvc(65, 'fvc'), dlco(48, 'dlco'));
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Observation/dlco', 'Observation/fvc']);
    });
    it('reads a DLCO % predicted recorded as a bare integer score', async () => {
      const asScore = score('DLCO-PCT-PRED', 48);
      expect(await result('ssc', 'fvc-dlco-above-30', fvc(65), asScore)).toBe('pass');
    });
    it('fails with FVC 30% or DLCO 25% predicted, even when the other is missing', async () => {
      expect(await result('ssc', 'fvc-dlco-above-30', fvc(30), dlco(48))).toBe('fail');
      expect(await result('ssc', 'fvc-dlco-above-30', dlco(25))).toBe('fail');
    });
    it('is unknown without a DLCO', async () => {
      expect(await result('ssc', 'fvc-dlco-above-30', fvc(65))).toBe('unknown');
    });
  });

  describe('no-severe-kidney-disease (exclusion)', () => {
    it('passes without kidney disease; fails with CKD stage 5 (ICD-10-CM) or scleroderma renal crisis', async () => {
      expect(await result('ssc', 'no-severe-kidney-disease')).toBe('pass');
      expect(
        await result(
          'ssc',
          'no-severe-kidney-disease',
          condition({ system: ICD10, code: 'N18.5' }),
        ),
      ).toBe('fail');
      const crisis = condition({ system: PROJECT, code: 'SCLERODERMA-RENAL-CRISIS' });
      expect(await result('ssc', 'no-severe-kidney-disease', crisis)).toBe('fail');
    });
  });

  describe('no-active-tuberculosis (exclusion)', () => {
    it('passes without tuberculosis; fails with pulmonary tuberculosis (A15.0)', async () => {
      expect(await result('ssc', 'no-active-tuberculosis')).toBe('pass');
      const tb = condition({ system: ICD10, code: 'A15.0' }, { id: 'tb' });
      const c = await criterion('ssc', 'no-active-tuberculosis', tb);
      expect(c.result).toBe('fail');
      expect(c.evidence).toEqual(['Condition/tb']);
    });
  });
});
