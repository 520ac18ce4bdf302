/**
 * NCT07339332 (CT1195E, seed 000): every computable criterion passes, fails and comes out unknown
 * through the real ELM, and the data rules real records need (units, reference ranges, most recent
 * valid result, ICD-10-CM, medication shapes, transaction Bundles).
 */
import type { FhirResource, MedicationRequest } from 'fhir/r4.js';
import { trialScreener } from '../support/trial-screener.js';
import {
  AS_OF,
  NEGATIVE,
  POSITIVE,
  bodyWeight,
  condition,
  daysAgo,
  medication,
  medicationRequest,
  medicationStatement,
  observation,
  patient,
  score,
  sle,
  transactionBundle,
  yearsAgo,
  PREDNISONE,
  MMF,
  mg,
  lab,
} from '../support/fhir-builders.js';

const TRIAL = 'NCT07339332';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const { screen, screenBundle, criterion, result } = trialScreener(TRIAL);

const PREDNISONE_5_TABLET = { rxnorm: '312617', text: 'predniSONE 5 MG Oral Tablet' };
const METHYLPRED = { rxnorm: '6902', text: 'methylprednisolone' };

/** A record in which every computable criterion passes. */
function eligiblePatient(): FhirResource[] {
  return [
    patient({ age: 40, gender: 'female' }),
    sle({ id: 'sle-1' }),
    condition({ code: '36402006', display: 'Lupus nephritis - WHO Class IV' }, { id: 'ln-1' }),
    medicationRequest(PREDNISONE, { id: 'pred-1', ...mg(10), start: daysAgo(365) }),
    medicationRequest(MMF, { id: 'mmf-1', ...mg(1000), start: daysAgo(300) }),
    observation('8061-4', POSITIVE, { id: 'ana-1' }),
    score('SLEDAI-2K', 10, { id: 'sledai-1' }),
    observation('21198-7', { quantity: 1, unit: 'm[IU]/mL' }, { id: 'hcg-1', date: daysAgo(1) }),
    lab('2160-0', 0.8, 'mg/dL'),
    bodyWeight(60),
    lab('751-8', 2.5, '10*9/L'),
    lab('718-7', 11, 'g/dL'),
    lab('1742-6', 30, 'U/L', 40),
    lab('1920-8', 30, 'U/L', 40),
    lab('1975-2', 0.8, 'mg/dL', 1.2),
    lab('6301-6', 1.0, '{INR}', 1.2),
    lab('3173-2', 30, 's', 35),
    observation('59408-5', { quantity: 97, unit: '%' }, { category: 'vital-signs' }),
    observation('10230-1', { quantity: 60, unit: '%' }, { category: 'imaging', date: daysAgo(20) }),
  ];
}

describe('NCT07339332 criteria', () => {
  describe('a fully eligible record', () => {
    it('is eligible, with the manual criteria left manual', async () => {
      const trial = await screen(...eligiblePatient());
      const notPassing = trial.criteria.filter((c) => c.result !== 'pass');
      expect(notPassing.map((c) => [c.id, c.result])).toEqual([
        ['informed-consent', 'manual'],
        ['contraception', 'manual'],
      ]);
      expect(trial.status).toBe('eligible');
      expect(trial.cohorts).toBeUndefined();
    });
  });

  describe('age-18-65', () => {
    it('passes at 18 and at 65', async () => {
      expect(await result('age-18-65', patient({ age: 18 }))).toBe('pass');
      expect(await result('age-18-65', patient({ age: 65 }))).toBe('pass');
    });
    it('fails at 66 and at 17', async () => {
      expect(await result('age-18-65', patient({ age: 66 }))).toBe('fail');
      expect(await result('age-18-65', patient({ age: 17 }))).toBe('fail');
    });
    it('is unknown without a birth date', async () => {
      expect(await result('age-18-65', patient({ birthDate: '' }))).toBe('unknown');
    });
  });

  describe('no-active-infection', () => {
    it('passes without infections, and with one resolved more than 2 weeks ago', async () => {
      expect(await result('no-active-infection')).toBe('pass');
      const old = condition(
        { code: '233604007', display: 'Pneumonia' },
        { clinicalStatus: 'resolved', onset: daysAgo(60), abatement: daysAgo(40) },
      );
      expect(await result('no-active-infection', old)).toBe('pass');
    });
    it('fails with active pneumonia (SNOMED) and cites it', async () => {
      const c = await criterion(
        'no-active-infection',
        condition({ code: '233604007' }, { id: 'pna-1', onset: daysAgo(5) }),
      );
      expect(c.result).toBe('fail');
      expect(c.evidence).toEqual(['Condition/pna-1']);
    });
    it('fails with pulmonary tuberculosis coded in ICD-10-CM', async () => {
      const tb = condition({ system: ICD10, code: 'A15.0' }, { onset: daysAgo(30) });
      expect(await result('no-active-infection', tb)).toBe('fail');
    });
    it('fails with an infection resolved within 2 weeks', async () => {
      const recent = condition(
        { code: '233604007' },
        { clinicalStatus: 'resolved', onset: daysAgo(20), abatement: daysAgo(5) },
      );
      expect(await result('no-active-infection', recent)).toBe('fail');
    });
    it('ignores a refuted infection', async () => {
      const refuted = condition({ code: '233604007' }, { verificationStatus: 'refuted' });
      expect(await result('no-active-infection', refuted)).toBe('pass');
    });
  });

  describe('negative-pregnancy-test', () => {
    it('passes for a woman whose serum beta-hCG of 1 mIU/mL was yesterday', async () => {
      // Regression: UCUM arbitrary units ([IU]) did not convert, even to themselves, so this was unknown.
      const hcg = observation(
        '21198-7',
        { quantity: 1, unit: 'm[IU]/mL' },
        { id: 'hcg-1', date: daysAgo(1) },
      );
      const c = await criterion('negative-pregnancy-test', hcg);
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Observation/hcg-1']);
    });
    it('passes with beta-hCG in [IU]/L, and with a date-only result on the screening day', async () => {
      const iuPerL = observation('21198-7', { quantity: 2, unit: '[IU]/L' }, { date: daysAgo(2) });
      expect(await result('negative-pregnancy-test', iuPerL)).toBe('pass');
      const today = observation('21198-7', { quantity: 1, unit: 'm[IU]/mL' }, { date: AS_OF });
      expect(await result('negative-pregnancy-test', today)).toBe('pass');
    });
    it('passes with a beta-hCG reported as "<5 mIU/mL"', async () => {
      // Regression: a result with a comparator has no comparable value, so this was unknown.
      const below = observation('21198-7', { quantity: 5, unit: 'mIU/mL' }, { date: daysAgo(1) });
      if (below.valueQuantity) below.valueQuantity.comparator = '<';
      expect(await result('negative-pregnancy-test', below)).toBe('pass');
    });
    it('passes with a coded negative qualitative test, and for a man', async () => {
      expect(await result('negative-pregnancy-test', observation('2118-8', NEGATIVE))).toBe('pass');
      expect(await result('negative-pregnancy-test', patient({ gender: 'male' }))).toBe('pass');
    });
    it('fails with a beta-hCG of 25 mIU/mL, whatever its range, and with a pregnancy on record', async () => {
      const high = observation('21198-7', { quantity: 25, unit: 'm[IU]/mL' }, { date: daysAgo(1) });
      expect(await result('negative-pregnancy-test', high)).toBe('fail');
      expect(await result('negative-pregnancy-test', condition({ code: '77386006' }))).toBe('fail');
    });
    it('is unknown for a woman without a test, or with one older than 7 days', async () => {
      expect(await result('negative-pregnancy-test')).toBe('unknown');
      const old = observation('2118-8', NEGATIVE, { date: daysAgo(20) });
      expect(await result('negative-pregnancy-test', old)).toBe('unknown');
    });
  });

  describe('sle-6-months', () => {
    it('passes with SNOMED SLE for 3 years, and with ICD-10-CM M32.14', async () => {
      expect(await result('sle-6-months', sle())).toBe('pass');
      const icd = condition({ system: ICD10, code: 'M32.14' }, { onset: yearsAgo(2) });
      expect(await result('sle-6-months', icd)).toBe('pass');
    });
    it('fails with SLE diagnosed 2 months ago, and without SLE', async () => {
      expect(await result('sle-6-months', sle({ onset: daysAgo(60) }))).toBe('fail');
      expect(await result('sle-6-months')).toBe('fail');
    });
    it('ignores refuted and resolved SLE', async () => {
      expect(await result('sle-6-months', sle({ verificationStatus: 'refuted' }))).toBe('fail');
      expect(await result('sle-6-months', sle({ clinicalStatus: 'resolved' }))).toBe('fail');
    });
    it('dates the onset from onsetAge and the birth date', async () => {
      // Regression: onsetAge was ignored and the (recent) recorded date taken as the onset.
      const atAge = (years: number) => {
        const c = sle({ recorded: daysAgo(10) });
        delete c.onsetDateTime;
        c.onsetAge = { value: years, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' };
        return c;
      };
      expect(await result('sle-6-months', patient({ age: 40 }), atAge(30))).toBe('pass');
      expect(await result('sle-6-months', patient({ age: 40 }), atAge(40))).toBe('fail');
    });
    it('is unknown when the onset is undated (onsetString) and SLE was recorded recently', async () => {
      const undated = sle({ recorded: daysAgo(10) });
      delete undated.onsetDateTime;
      undated.onsetString = 'in her twenties';
      expect(await result('sle-6-months', undated)).toBe('unknown');
    });
    it('is unknown with "lupus erythematosus" (Synthea 200936003)', async () => {
      const lupus = condition({ code: '200936003' }, { onset: yearsAgo(3) });
      expect(await result('sle-6-months', lupus)).toBe('unknown');
    });
  });

  describe('prior-treatment', () => {
    it('passes with prednisone and mycophenolate for a year (MedicationRequest)', async () => {
      const c = await criterion(
        'prior-treatment',
        medicationRequest(PREDNISONE, { id: 'p', ...mg(10) }),
        medicationRequest(MMF, { id: 'm', ...mg(1000) }),
      );
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['MedicationRequest/m', 'MedicationRequest/p']);
    });
    it('passes with MedicationStatements and a text-only brand name', async () => {
      expect(
        await result(
          'prior-treatment',
          medicationStatement(PREDNISONE, mg(10)),
          medicationStatement({ text: 'CellCept 500 mg tablet' }, mg(1000)),
        ),
      ).toBe('pass');
    });
    it('fails with glucocorticoids alone, or with an immunosuppressant for only 1 month', async () => {
      expect(await result('prior-treatment', medicationRequest(PREDNISONE, mg(10)))).toBe('fail');
      expect(
        await result(
          'prior-treatment',
          medicationRequest(PREDNISONE, mg(10)),
          medicationRequest(MMF, { ...mg(1000), start: daysAgo(30) }),
        ),
      ).toBe('fail');
    });
    it('is unknown without any medication data', async () => {
      expect(await result('prior-treatment')).toBe('unknown');
    });
  });

  describe('stable-dose', () => {
    it('passes when the current regimen began months ago', async () => {
      expect(await result('stable-dose', medicationRequest(PREDNISONE, mg(10)))).toBe('pass');
    });
    it('fails when the current prescription began a week ago', async () => {
      const changed = medicationRequest(PREDNISONE, { ...mg(15), start: daysAgo(7) });
      expect(await result('stable-dose', changed)).toBe('fail');
    });
    it('is unknown without medication data', async () => {
      expect(await result('stable-dose')).toBe('unknown');
    });
  });

  describe('steroid-dose', () => {
    it('passes on prednisone 10 mg/day alone, and at any dose with an immunosuppressant', async () => {
      expect(await result('steroid-dose', medicationRequest(PREDNISONE, mg(10)))).toBe('pass');
      expect(
        await result(
          'steroid-dose',
          medicationRequest(PREDNISONE, mg(2.5)),
          medicationRequest(MMF, mg(1000)),
        ),
      ).toBe('pass');
    });
    it('fails on prednisone 5 mg/day alone', async () => {
      expect(await result('steroid-dose', medicationRequest(PREDNISONE, mg(5)))).toBe('fail');
    });
    it('counts frequency: prednisone 5 mg twice a day is 10 mg/day', async () => {
      const bid = medicationRequest(PREDNISONE, { ...mg(5), frequency: 2 });
      expect(await result('steroid-dose', bid)).toBe('pass');
    });
    it('converts methylprednisolone to prednisone equivalents (8 mg = 10 mg, 4 mg = 5 mg)', async () => {
      expect(await result('steroid-dose', medicationRequest(METHYLPRED, mg(8)))).toBe('pass');
      expect(await result('steroid-dose', medicationRequest(METHYLPRED, mg(4)))).toBe('fail');
    });
    it('multiplies tablets by the strength of an RxNorm product (2 x 5 mg passes, 1 x 5 mg fails)', async () => {
      const two = medicationRequest(PREDNISONE_5_TABLET, { dose: { value: 2, unit: 'tablet' } });
      expect(await result('steroid-dose', two)).toBe('pass');
      const one = medicationRequest(PREDNISONE_5_TABLET, { dose: { value: 1, unit: 'tablet' } });
      expect(await result('steroid-dose', one)).toBe('fail');
    });
    it('reads a medicationReference to a bundled Medication', async () => {
      const request = medicationRequest(PREDNISONE_5_TABLET, {
        id: 'ref-1',
        dose: { value: 2, unit: 'tablet' },
      });
      const byReference: MedicationRequest = {
        ...request,
        medicationReference: { reference: 'Medication/med-1' },
      };
      delete byReference.medicationCodeableConcept;
      const c = await criterion(
        'steroid-dose',
        byReference,
        medication('med-1', PREDNISONE_5_TABLET),
      );
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['MedicationRequest/ref-1']);
    });
    it('is unknown when the current glucocorticoid has no dose, or without medication data', async () => {
      expect(await result('steroid-dose', medicationRequest(PREDNISONE))).toBe('unknown');
      expect(await result('steroid-dose')).toBe('unknown');
    });
  });

  describe('autoantibody-positive', () => {
    it('passes with a positive ANA, and with an ANA titre of 1:160', async () => {
      expect(await result('autoantibody-positive', observation('8061-4', POSITIVE))).toBe('pass');
      const titer = observation('5048-4', { string: '1:160' });
      expect(await result('autoantibody-positive', titer)).toBe('pass');
    });
    it('passes with anti-dsDNA above its own reference range in [IU]/mL', async () => {
      const dsdna = lab('5130-0', 80, '[IU]/mL', 30);
      expect(await result('autoantibody-positive', dsdna)).toBe('pass');
    });
    it('fails when every antibody is negative', async () => {
      expect(
        await result(
          'autoantibody-positive',
          observation('8061-4', NEGATIVE),
          observation('31348-6', NEGATIVE),
          observation('31627-3', NEGATIVE),
        ),
      ).toBe('fail');
    });
    it('is unknown without results, or with only a negative ANA', async () => {
      expect(await result('autoantibody-positive')).toBe('unknown');
      expect(await result('autoantibody-positive', observation('8061-4', NEGATIVE))).toBe(
        'unknown',
      );
    });
  });

  describe('sledai-7-or-organ-dysfunction', () => {
    it('passes with SLEDAI-2K 8, and with 4 plus lupus nephritis class IV', async () => {
      expect(await result('sledai-7-or-organ-dysfunction', score('SLEDAI-2K', 8))).toBe('pass');
      expect(
        await result(
          'sledai-7-or-organ-dysfunction',
          score('SLEDAI-2K', 4),
          condition({ code: '36402006' }),
        ),
      ).toBe('pass');
    });
    it('fails with SLEDAI-2K 4, the most recent score deciding', async () => {
      const older = score('SLEDAI-2K', 12, { date: daysAgo(90) });
      expect(await result('sledai-7-or-organ-dysfunction', older, score('SLEDAI-2K', 4))).toBe(
        'fail',
      );
    });
    it('is unknown without a score', async () => {
      expect(await result('sledai-7-or-organ-dysfunction')).toBe('unknown');
    });
  });

  describe('active-organ-involvement', () => {
    it('passes with lupus nephritis (ICD-10-CM M32.14)', async () => {
      const ln = condition({ system: ICD10, code: 'M32.14' }, { id: 'ln' });
      const c = await criterion('active-organ-involvement', ln);
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Condition/ln']);
    });
    it('is unknown with skin disease only (the record cannot rule organ involvement out)', async () => {
      const discoid = condition({ code: '200938002', display: 'Discoid lupus erythematosus' });
      expect(await result('active-organ-involvement', sle(), discoid)).toBe('unknown');
    });
  });

  describe('creatinine-clearance', () => {
    // Female, 40 years, 60 kg: CrCl = 100 x 60 / (72 x SCr) x 0.85.
    it('passes with creatinine 0.8 mg/dL (88.5 mL/min) and cites creatinine and weight', async () => {
      const c = await criterion(
        'creatinine-clearance',
        observation('2160-0', { quantity: 0.8, unit: 'mg/dL' }, { id: 'cr' }),
        bodyWeight(60, { id: 'wt' }),
      );
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Observation/cr', 'Observation/wt']);
    });
    it('converts creatinine in umol/L (70.7 umol/L passes, 177 umol/L fails)', async () => {
      expect(
        await result('creatinine-clearance', lab('14682-9', 70.7, 'umol/L'), bodyWeight(60)),
      ).toBe('pass');
      expect(
        await result('creatinine-clearance', lab('14682-9', 177, 'umol/L'), bodyWeight(60)),
      ).toBe('fail');
    });
    it('reads the micro sign in "µmol/L" as UCUM "umol/L"', async () => {
      // Regression: "µmol/L" was not UCUM, so the value was dropped and the result unknown.
      expect(
        await result('creatinine-clearance', lab('14682-9', 70.7, '\u00B5mol/L'), bodyWeight(60)),
      ).toBe('pass');
      expect(await result('bilirubin', lab('14631-6', 50, '\u00B5mol/L', 21))).toBe('fail');
    });
    it('fails with creatinine 2.0 mg/dL (35 mL/min)', async () => {
      expect(
        await result('creatinine-clearance', lab('2160-0', 2.0, 'mg/dL'), bodyWeight(60)),
      ).toBe('fail');
    });
    it('uses a reported clearance that is newer than the creatinine', async () => {
      const reported = observation(
        '2164-2',
        { quantity: 45, unit: 'mL/min' },
        { id: 'crcl', date: daysAgo(1) },
      );
      const c = await criterion(
        'creatinine-clearance',
        lab('2160-0', 0.8, 'mg/dL'),
        bodyWeight(60),
        reported,
      );
      expect(c.result).toBe('fail');
      expect(c.evidence).toEqual(['Observation/crcl']);
    });
    it('computes Cockcroft-Gault when the reported clearance is older than the creatinine', async () => {
      const reported = observation(
        '2164-2',
        { quantity: 45, unit: 'mL/min' },
        { date: daysAgo(60) },
      );
      expect(
        await result('creatinine-clearance', lab('2160-0', 0.8, 'mg/dL'), bodyWeight(60), reported),
      ).toBe('pass');
    });
    it('is unknown without a recent weight', async () => {
      expect(await result('creatinine-clearance', lab('2160-0', 0.8, 'mg/dL'))).toBe('unknown');
      expect(
        await result(
          'creatinine-clearance',
          lab('2160-0', 0.8, 'mg/dL'),
          bodyWeight(60, { date: daysAgo(200) }),
        ),
      ).toBe('unknown');
    });
  });

  describe('anc', () => {
    it('passes with 1.5 x 10^9/L and with 1.2 x 10^3/uL', async () => {
      expect(await result('anc', lab('751-8', 1.5, '10*9/L'))).toBe('pass');
      expect(await result('anc', lab('751-8', 1.2, '10*3/uL'))).toBe('pass');
    });
    it('fails with 0.8 x 10^9/L and with 800 /uL', async () => {
      expect(await result('anc', lab('751-8', 0.8, '10*9/L'))).toBe('fail');
      expect(await result('anc', lab('751-8', 800, '/uL'))).toBe('fail');
    });
    it('is unknown without a result', async () => {
      expect(await result('anc')).toBe('unknown');
    });
  });

  describe('hemoglobin', () => {
    it('passes with 7 g/dL and with 65 g/L', async () => {
      expect(await result('hemoglobin', lab('718-7', 7, 'g/dL'))).toBe('pass');
      expect(await result('hemoglobin', lab('718-7', 65, 'g/L'))).toBe('pass');
    });
    it('fails with 5.5 g/dL and with 55 g/L', async () => {
      expect(await result('hemoglobin', lab('718-7', 5.5, 'g/dL'))).toBe('fail');
      expect(await result('hemoglobin', lab('718-7', 55, 'g/L'))).toBe('fail');
    });
    it('is unknown without a result', async () => {
      expect(await result('hemoglobin')).toBe('unknown');
    });
  });

  describe('most recent valid result decides (hemoglobin)', () => {
    const older = () =>
      observation('718-7', { quantity: 5, unit: 'g/dL' }, { id: 'old', date: daysAgo(20) });
    it('uses the newer result', async () => {
      const newer = observation('718-7', { quantity: 8, unit: 'g/dL' }, { id: 'new' });
      const c = await criterion('hemoglobin', older(), newer);
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['Observation/new']);
    });
    it('ignores a newer result entered in error, or cancelled', async () => {
      for (const status of ['entered-in-error', 'cancelled'] as const) {
        const newer = observation('718-7', { quantity: 8, unit: 'g/dL' }, { status });
        expect(await result('hemoglobin', older(), newer)).toBe('fail');
      }
    });
    it('ignores a result dated after the evaluation date', async () => {
      const future = observation('718-7', { quantity: 8, unit: 'g/dL' }, { date: daysAgo(-3) });
      expect(await result('hemoglobin', older(), future)).toBe('fail');
    });
  });

  describe('liver-enzymes', () => {
    it('passes with ALT and AST under 2 x their own ULN', async () => {
      expect(
        await result('liver-enzymes', lab('1742-6', 70, 'U/L', 40), lab('1920-8', 30, 'U/L', 40)),
      ).toBe('pass');
    });
    it("takes the ULN from the result's own reference range (ALT 90, ULN 50: 1.8 x)", async () => {
      expect(
        await result('liver-enzymes', lab('1742-6', 90, 'U/L', 50), lab('1920-8', 30, 'U/L')),
      ).toBe('pass');
    });
    it('falls back to the default ULN of 40 U/L (ALT 90: 2.25 x fails)', async () => {
      expect(
        await result('liver-enzymes', lab('1742-6', 90, 'U/L'), lab('1920-8', 30, 'U/L')),
      ).toBe('fail');
    });
    it('reads enzyme activity in IU/L as U/L against the default ULN (ALT and AST 30 IU/L)', async () => {
      // Regression: IU/L became the arbitrary [IU]/L, which did not convert to the default 40 U/L.
      expect(
        await result('liver-enzymes', lab('1742-6', 30, 'IU/L'), lab('1920-8', 30, 'IU/L')),
      ).toBe('pass');
      expect(
        await result('liver-enzymes', lab('1742-6', 100, 'IU/L'), lab('1920-8', 30, 'IU/L')),
      ).toBe('fail');
    });
    it('fails when AST is above 2 x ULN', async () => {
      expect(
        await result('liver-enzymes', lab('1742-6', 30, 'U/L', 40), lab('1920-8', 100, 'U/L', 40)),
      ).toBe('fail');
    });
    it('is unknown without AST', async () => {
      expect(await result('liver-enzymes', lab('1742-6', 30, 'U/L', 40))).toBe('unknown');
    });
  });

  describe('bilirubin', () => {
    it('passes with 1.5 mg/dL (default ULN 1.2) and with 40 umol/L (own ULN 21 umol/L)', async () => {
      expect(await result('bilirubin', lab('1975-2', 1.5, 'mg/dL'))).toBe('pass');
      expect(await result('bilirubin', lab('14631-6', 40, 'umol/L', 21))).toBe('pass');
    });
    it('fails with 3.0 mg/dL and with 50 umol/L (own ULN 21 umol/L)', async () => {
      expect(await result('bilirubin', lab('1975-2', 3.0, 'mg/dL'))).toBe('fail');
      expect(await result('bilirubin', lab('14631-6', 50, 'umol/L', 21))).toBe('fail');
    });
    it('is unknown without a result', async () => {
      expect(await result('bilirubin')).toBe('unknown');
    });
  });

  describe('coagulation', () => {
    it('passes with INR 1.1, and with a high INR but APTT within 1.5 x ULN', async () => {
      expect(await result('coagulation', lab('6301-6', 1.1, '{INR}'))).toBe('pass');
      expect(
        await result('coagulation', lab('6301-6', 2.5, '{INR}', 1.2), lab('3173-2', 30, 's', 35)),
      ).toBe('pass');
    });
    it('fails when both INR and APTT exceed 1.5 x ULN', async () => {
      expect(
        await result('coagulation', lab('6301-6', 2.5, '{INR}', 1.2), lab('3173-2', 60, 's', 35)),
      ).toBe('fail');
    });
    it('is unknown without results, or with a high INR and no APTT', async () => {
      expect(await result('coagulation')).toBe('unknown');
      expect(await result('coagulation', lab('6301-6', 2.5, '{INR}', 1.2))).toBe('unknown');
    });
  });

  describe('spo2', () => {
    it('passes with 95%, fails with 90%, is unknown without a reading', async () => {
      expect(await result('spo2', lab('59408-5', 95, '%'))).toBe('pass');
      expect(await result('spo2', lab('2708-6', 90, '%'))).toBe('fail');
      expect(await result('spo2')).toBe('unknown');
    });
  });

  describe('lvef', () => {
    it('passes with 55% three weeks ago', async () => {
      const echo = observation('10230-1', { quantity: 55, unit: '%' }, { date: daysAgo(21) });
      expect(await result('lvef', echo)).toBe('pass');
    });
    it('fails with 45%', async () => {
      expect(await result('lvef', lab('10230-1', 45, '%'))).toBe('fail');
    });
    it('is unknown without an echo, or with one older than 8 weeks', async () => {
      expect(await result('lvef')).toBe('unknown');
      const old = observation('10230-1', { quantity: 55, unit: '%' }, { date: daysAgo(70) });
      expect(await result('lvef', old)).toBe('unknown');
    });
  });

  describe('a transaction Bundle with urn:uuid references', () => {
    it('screens like a collection Bundle, medicationReference included', async () => {
      const resources = eligiblePatient().map((r) => {
        if (r.resourceType !== 'MedicationRequest' || r.id !== 'pred-1') return r;
        const byReference: MedicationRequest = {
          ...r,
          medicationReference: { reference: 'Medication/pred-med' },
        };
        delete byReference.medicationCodeableConcept;
        return byReference;
      });
      resources.push(medication('pred-med', PREDNISONE));
      const input = transactionBundle(...resources);
      const screened = await screenBundle(input);
      expect(screened.status).toBe('eligible');
      const treatment = screened.criteria.find((c) => c.id === 'prior-treatment');
      expect(treatment?.result).toBe('pass');
      expect(treatment?.evidence).toHaveLength(2);
    });
  });

  describe('trial status', () => {
    it('is ineligible when a criterion fails, needs-review when one is unknown', async () => {
      const [, ...rest] = eligiblePatient();
      expect((await screen(patient({ age: 70 }), ...rest)).status).toBe('ineligible');
      expect((await screen(patient({ birthDate: '' }), ...rest)).status).toBe('needs-review');
    });
  });
});
