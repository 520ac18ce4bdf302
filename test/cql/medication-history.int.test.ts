/**
 * Medication histories read as treatment episodes (issue 13): the same drug recorded as an order,
 * a statement based on it, renewals, administrations and dispenses is one history per ingredient,
 * with a daily dose over time. Each fixture is a minimal record in the shape an EHR sends it.
 */
import type {
  FhirResource,
  MedicationAdministration,
  MedicationDispense,
  MedicationRequest,
} from 'fhir/r4.js';
import { trialScreener } from '../support/trial-screener.js';
import {
  HCQ,
  MMF,
  PREDNISONE,
  bodyWeight,
  daysAgo,
  medicationStatement,
  mg,
} from '../support/fhir-builders.js';

const IM19 = trialScreener('NCT06513429');
const CT1195E = trialScreener('NCT07339332');
const MC150 = trialScreener('NCT06892145');

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const GTS = 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation';

/** A MedicationRequest as Epic / Oracle Health send it: dose, timing given by the caller. */
function order(
  id: string,
  drug: { rxnorm?: string; text: string },
  options: {
    start: string;
    end?: string;
    doseMg?: number;
    timing?: Record<string, unknown>;
    status?: MedicationRequest['status'];
    intent?: MedicationRequest['intent'];
    extra?: Partial<MedicationRequest>;
  },
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: options.status ?? 'active',
    intent: options.intent ?? 'order',
    medicationCodeableConcept: {
      ...(drug.rxnorm ? { coding: [{ system: RXNORM, code: drug.rxnorm }] } : {}),
      text: drug.text,
    },
    subject: { reference: 'Patient/pat-1' },
    authoredOn: options.start,
    dosageInstruction: [
      {
        timing: {
          ...(options.timing ?? {}),
          repeat: {
            boundsPeriod: { start: options.start, ...(options.end ? { end: options.end } : {}) },
            ...((options.timing?.repeat as object | undefined) ?? {}),
          },
        },
        ...(options.doseMg === undefined
          ? {}
          : {
              doseAndRate: [
                {
                  doseQuantity: {
                    value: options.doseMg,
                    unit: 'mg',
                    system: 'http://unitsofmeasure.org',
                    code: 'mg',
                  },
                },
              ],
            }),
      },
    ],
    ...(options.extra ?? {}),
  };
}

const daily = { repeat: { frequency: 1, period: 1, periodUnit: 'd' } };

describe('treatment episodes', () => {
  describe('an order and the statement based on it are one treatment, not two doses', () => {
    const records = (): FhirResource[] => [
      order('rx-pred', PREDNISONE, { start: daysAgo(120), doseMg: 20, timing: daily }),
      {
        ...medicationStatement(PREDNISONE, { id: 'ms-pred', start: daysAgo(118), ...mg(20) }),
        basedOn: [{ reference: 'MedicationRequest/rx-pred' }],
      },
    ];
    it('reads 20 mg/day (not 40): IM19 "maximum dose of steroids is 30mg/day" passes', async () => {
      expect(await IM19.result('steroid-max-30-mg', ...records())).toBe('pass');
    });
    it('fails at 40 mg/day recorded once', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('rx-pred40', PREDNISONE, { start: daysAgo(120), doseMg: 40, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('overlapping records of the same dose from two systems are one dose too', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('rx-a', PREDNISONE, { start: daysAgo(120), doseMg: 20, timing: daily }),
          medicationStatement(PREDNISONE, { id: 'ms-b', start: daysAgo(60), ...mg(20) }),
        ),
      ).toBe('pass');
    });
  });

  describe('a renewal at the same dose is no dose change', () => {
    const renewed = (newDose: number): FhirResource[] => [
      order('rx-old', PREDNISONE, {
        start: daysAgo(200),
        end: daysAgo(3),
        status: 'completed',
        doseMg: 10,
        timing: daily,
      }),
      order('rx-new', PREDNISONE, {
        start: daysAgo(3),
        doseMg: newDose,
        timing: daily,
        extra: { priorPrescription: { reference: 'MedicationRequest/rx-old' } },
      }),
    ];
    it('IM19 "stable for >= 7 days" passes for a renewal 3 days ago at the same dose', async () => {
      expect(await IM19.result('steroid-stable-7-days', ...renewed(10))).toBe('pass');
    });
    it('fails when the renewal changed the dose 3 days ago', async () => {
      expect(await IM19.result('steroid-stable-7-days', ...renewed(15))).toBe('fail');
    });
    it('CT1195E "stable dosage for >= 2 weeks" passes across the renewal', async () => {
      expect(
        await CT1195E.result(
          'stable-dose',
          ...renewed(10),
          order('rx-mmf', MMF, { start: daysAgo(300), doseMg: 1000, timing: daily }),
        ),
      ).toBe('pass');
    });
  });

  describe('"treated for >= 3 months" sums the time on treatment, not the span', () => {
    it('a week in 2020 and two weeks now do not make 3 months (CT1195E prior-treatment)', async () => {
      expect(
        await CT1195E.result(
          'prior-treatment',
          order('p1', PREDNISONE, {
            start: '2020-03-01',
            end: '2020-03-08',
            status: 'completed',
            doseMg: 10,
            timing: daily,
          }),
          order('p2', PREDNISONE, { start: daysAgo(14), doseMg: 10, timing: daily }),
          order('m1', MMF, {
            start: '2020-03-01',
            end: '2020-03-08',
            status: 'completed',
            doseMg: 1000,
            timing: daily,
          }),
          order('m2', MMF, { start: daysAgo(14), doseMg: 1000, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('passes with glucocorticoid and immunosuppressant together for 4 months', async () => {
      expect(
        await CT1195E.result(
          'prior-treatment',
          order('p', PREDNISONE, { start: daysAgo(120), doseMg: 10, timing: daily }),
          order('m', MMF, { start: daysAgo(120), doseMg: 1000, timing: daily }),
        ),
      ).toBe('pass');
    });
    it('"combined with" is concurrent: steroids in 2023, MMF in 2025, each 4 months, fails', async () => {
      expect(
        await CT1195E.result(
          'prior-treatment',
          order('p', PREDNISONE, {
            start: '2023-01-01',
            end: '2023-05-01',
            status: 'completed',
            doseMg: 10,
            timing: daily,
          }),
          order('m', MMF, {
            start: '2025-01-01',
            end: '2025-05-01',
            status: 'completed',
            doseMg: 1000,
            timing: daily,
          }),
        ),
      ).toBe('fail');
    });
    it('MC-1-50 "total duration of treatment >= 3 months": a week then two weeks fails', async () => {
      expect(
        await MC150.result(
          'prior-treatment-3-months',
          order('h1', HCQ, {
            start: '2020-03-01',
            end: '2020-03-08',
            status: 'completed',
            doseMg: 200,
            timing: daily,
          }),
          order('h2', HCQ, { start: daysAgo(14), doseMg: 200, timing: daily }),
        ),
      ).toBe('fail');
    });
  });

  describe('IM19 "start time >= 12 weeks before screening" is the current episode start', () => {
    it('a drug restarted 10 weeks ago after a year off fails', async () => {
      expect(
        await IM19.result(
          'antimalarial-immunosuppressant-started-12-weeks',
          order('h1', HCQ, {
            start: '2023-01-01',
            end: '2024-01-01',
            status: 'completed',
            doseMg: 400,
            timing: daily,
          }),
          order('h2', HCQ, { start: daysAgo(70), doseMg: 400, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('a drug renewed without a break since 20 weeks passes', async () => {
      expect(
        await IM19.result(
          'antimalarial-immunosuppressant-started-12-weeks',
          order('h1', HCQ, {
            start: daysAgo(140),
            end: daysAgo(50),
            status: 'completed',
            doseMg: 400,
            timing: daily,
          }),
          order('h2', HCQ, { start: daysAgo(50), doseMg: 400, timing: daily }),
        ),
      ).toBe('pass');
    });
  });

  describe('frequency', () => {
    it('timing.code BID doubles the dose: 20 mg BID is 40 mg/day (IM19 fails)', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('bid', PREDNISONE, {
            start: daysAgo(30),
            doseMg: 20,
            timing: { code: { coding: [{ system: GTS, code: 'BID' }], text: 'BID' } },
          }),
        ),
      ).toBe('fail');
    });
    it('timing.code QD is once a day: 20 mg QD passes', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('qd', PREDNISONE, {
            start: daysAgo(30),
            doseMg: 20,
            timing: { code: { coding: [{ system: GTS, code: 'QD' }] } },
          }),
        ),
      ).toBe('pass');
    });
    it('a SNOMED frequency (229799001 twice a day) is read too', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('bid-sct', PREDNISONE, {
            start: daysAgo(30),
            doseMg: 20,
            timing: { code: { coding: [{ system: 'http://snomed.info/sct', code: '229799001' }] } },
          }),
        ),
      ).toBe('fail');
    });
    it('two timeOfDay entries are twice a day', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('tod', PREDNISONE, {
            start: daysAgo(30),
            doseMg: 20,
            timing: { repeat: { timeOfDay: ['08:00:00', '20:00:00'] } },
          }),
        ),
      ).toBe('fail');
    });
    it('an unknown frequency is an unknown dose, not once a day', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('nofreq', PREDNISONE, { start: daysAgo(30), doseMg: 20 }),
        ),
      ).toBe('unknown');
    });
  });

  describe('several doses a day and several glucocorticoids', () => {
    it('two dosage lines (20 mg morning, 15 mg evening) are 35 mg/day: IM19 fails', async () => {
      const split = order('split', PREDNISONE, { start: daysAgo(30), doseMg: 20, timing: daily });
      const morning = split.dosageInstruction![0]!;
      split.dosageInstruction = [
        { ...morning, sequence: 1 },
        {
          ...morning,
          sequence: 1,
          doseAndRate: [
            {
              doseQuantity: {
                value: 15,
                unit: 'mg',
                system: 'http://unitsofmeasure.org',
                code: 'mg',
              },
            },
          ],
        },
      ];
      expect(await IM19.result('steroid-max-30-mg', split)).toBe('fail');
    });
    it('sequential dosage lines (a taper) are not summed: the first line decides', async () => {
      const taper = order('taper', PREDNISONE, { start: daysAgo(30), doseMg: 20, timing: daily });
      const first = taper.dosageInstruction![0]!;
      taper.dosageInstruction = [
        { ...first, sequence: 1 },
        {
          ...first,
          sequence: 2,
          doseAndRate: [
            {
              doseQuantity: {
                value: 15,
                unit: 'mg',
                system: 'http://unitsofmeasure.org',
                code: 'mg',
              },
            },
          ],
        },
      ];
      expect(await IM19.result('steroid-max-30-mg', taper)).toBe('pass');
    });
    it('a second current glucocorticoid of unknown dose makes the total unknown', async () => {
      expect(
        await IM19.result(
          'steroid-max-30-mg',
          order('pred', PREDNISONE, { start: daysAgo(30), doseMg: 20, timing: daily }),
          order('mp', { rxnorm: '6902', text: 'methylprednisolone' }, { start: daysAgo(30) }),
        ),
      ).toBe('unknown');
    });
  });

  describe('stable dose when the record does not state it', () => {
    it('one order without a dose for 20 weeks is stable (a change would be a new order)', async () => {
      expect(
        await IM19.result(
          'antimalarial-immunosuppressant-stable-8-weeks',
          order('hcq', HCQ, { start: daysAgo(140), doseMg: 400, timing: daily }),
          order('mmf', MMF, { start: daysAgo(140) }),
        ),
      ).toBe('pass');
    });
    it('renewed 3 weeks ago without a dose after 20 weeks: unknown', async () => {
      expect(
        await IM19.result(
          'antimalarial-immunosuppressant-stable-8-weeks',
          order('mmf-1', MMF, { start: daysAgo(140), end: daysAgo(21), status: 'completed' }),
          order('mmf-2', MMF, { start: daysAgo(21) }),
        ),
      ).toBe('unknown');
    });
    it('a drug without a dose started 3 weeks ago is not stable for 8 weeks', async () => {
      expect(
        await IM19.result(
          'antimalarial-immunosuppressant-stable-8-weeks',
          order('mmf', MMF, { start: daysAgo(21) }),
        ),
      ).toBe('fail');
    });
  });

  describe('what is not exposure, and what is history', () => {
    it('doNotPerform is not a treatment', async () => {
      expect(
        await IM19.result(
          'prior-biologic',
          order(
            'dnp',
            { rxnorm: '121191', text: 'rituximab' },
            {
              start: daysAgo(100),
              doseMg: 1000,
              timing: daily,
              extra: { doNotPerform: true },
            },
          ),
          order('other', HCQ, { start: daysAgo(300), doseMg: 400, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('a patient-reported medication (intent plan, reportedBoolean) is history', async () => {
      expect(
        await IM19.result(
          'prior-biologic',
          order(
            'reported',
            { rxnorm: '121191', text: 'rituximab' },
            {
              start: '2024-02-01',
              end: '2024-03-01',
              status: 'completed',
              intent: 'plan',
              doseMg: 1000,
              timing: daily,
              extra: { reportedBoolean: true },
            },
          ),
        ),
      ).toBe('pass');
    });
    it('a proposal is not exposure', async () => {
      expect(
        await IM19.result(
          'prior-biologic',
          order(
            'prop',
            { rxnorm: '121191', text: 'rituximab' },
            {
              start: daysAgo(100),
              intent: 'proposal',
              doseMg: 1000,
              timing: daily,
            },
          ),
          order('other', HCQ, { start: daysAgo(300), doseMg: 400, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('a cancelled order is not exposure', async () => {
      expect(
        await IM19.result(
          'prior-biologic',
          order(
            'canc',
            { rxnorm: '121191', text: 'rituximab' },
            {
              start: daysAgo(100),
              status: 'cancelled',
              doseMg: 1000,
              timing: daily,
            },
          ),
          order('other', HCQ, { start: daysAgo(300), doseMg: 400, timing: daily }),
        ),
      ).toBe('fail');
    });
  });

  describe('administrations and dispenses', () => {
    const administration = (
      id: string,
      drug: { rxnorm?: string; text: string },
      date: string,
      doseMg: number,
      status: MedicationAdministration['status'] = 'completed',
    ): MedicationAdministration => ({
      resourceType: 'MedicationAdministration',
      id,
      status,
      medicationCodeableConcept: {
        ...(drug.rxnorm ? { coding: [{ system: RXNORM, code: drug.rxnorm }] } : {}),
        text: drug.text,
      },
      subject: { reference: 'Patient/pat-1' },
      effectiveDateTime: `${date}T10:00:00Z`,
      dosage: {
        route: { text: 'intravenous' },
        dose: { value: doseMg, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
      },
    });
    it('an inpatient rituximab infusion (MedicationAdministration) is prior biologic', async () => {
      const c = await IM19.criterion(
        'prior-biologic',
        administration('ma-rtx', { rxnorm: '121191', text: 'rituximab' }, '2025-06-01', 1000),
      );
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['MedicationAdministration/ma-rtx']);
    });
    it('an administration not done is not exposure', async () => {
      expect(
        await IM19.result(
          'prior-biologic',
          administration(
            'ma-nd',
            { rxnorm: '121191', text: 'rituximab' },
            '2025-06-01',
            1000,
            'not-done',
          ),
          order('other', HCQ, { start: daysAgo(300), doseMg: 400, timing: daily }),
        ),
      ).toBe('fail');
    });
    it('methylprednisolone 1000 mg pulses reach MC-1-50 "1 mg/kg/d" for 60 kg', async () => {
      expect(
        await MC150.result(
          'prior-glucocorticoid-1-mg-kg',
          administration(
            'ma-mp',
            { rxnorm: '6902', text: 'methylprednisolone' },
            '2025-06-01',
            1000,
          ),
          bodyWeight(60),
        ),
      ).toBe('pass');
    });
    it('a dispense with days supply covering today is current treatment', async () => {
      const dispense: MedicationDispense = {
        resourceType: 'MedicationDispense',
        id: 'md-hcq',
        status: 'completed',
        medicationCodeableConcept: {
          coding: [{ system: RXNORM, code: '979092' }],
          text: 'hydroxychloroquine sulfate 200 MG Oral Tablet',
        },
        subject: { reference: 'Patient/pat-1' },
        whenHandedOver: daysAgo(20),
        daysSupply: { value: 90, unit: 'day', system: 'http://unitsofmeasure.org', code: 'd' },
        dosageInstruction: [
          {
            timing: { code: { coding: [{ system: GTS, code: 'BID' }] } },
            doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet' } }],
          },
        ],
      };
      const c = await IM19.criterion('current-standard-therapy', dispense);
      expect(c.result).toBe('pass');
      expect(c.evidence).toEqual(['MedicationDispense/md-hcq']);
    });
  });

  describe('maximum dose with the weight nearest the dose', () => {
    it('60 mg/day two years ago at 55 kg passes 1 mg/kg even though the patient weighs 80 kg now', async () => {
      expect(
        await MC150.result(
          'prior-glucocorticoid-1-mg-kg',
          order('hi', PREDNISONE, {
            start: '2024-06-01',
            end: '2024-08-01',
            status: 'completed',
            doseMg: 60,
            timing: daily,
          }),
          bodyWeight(55, { date: '2024-06-03' }),
          bodyWeight(80),
        ),
      ).toBe('pass');
    });
  });
});
