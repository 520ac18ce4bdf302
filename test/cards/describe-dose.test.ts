import type { Dosage } from 'fhir/r4.js';
import { describeDose } from '../../src/cards/describe-dose.js';

/** Issue 14: "mycophenolate mofetil 500 MG Oral Tablet 1000 mg" for 1000 mg twice daily read as 1 g/day. */
const mg = (value: number) => ({
  doseAndRate: [
    { doseQuantity: { value, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } },
  ],
});
const GTS = 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation';

describe('describeDose', () => {
  it.each<[string, Dosage, string]>([
    [
      'repeat frequency/period (Synthea, Epic)',
      { ...mg(1000), timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } },
      '1000 mg twice daily (2000 mg/day)',
    ],
    [
      'a GTS timing code only (Oracle Health)',
      { ...mg(500), timing: { code: { coding: [{ system: GTS, code: 'TID' }] } } },
      '500 mg three times daily (1500 mg/day)',
    ],
    [
      'a timing code as text',
      { ...mg(1), timing: { code: { text: 'BID' } } },
      '1 mg twice daily (2 mg/day)',
    ],
    [
      'times of day without a frequency',
      { ...mg(2), timing: { repeat: { timeOfDay: ['08:00:00', '20:00:00'] } } },
      '2 mg twice daily (4 mg/day)',
    ],
    [
      'once a day',
      { ...mg(10), timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } },
      '10 mg daily',
    ],
    [
      'weekly methotrexate',
      { ...mg(15), timing: { repeat: { frequency: 1, period: 1, periodUnit: 'wk' } } },
      '15 mg weekly',
    ],
    [
      'every other day',
      { ...mg(5), timing: { code: { coding: [{ system: GTS, code: 'QOD' }] } } },
      '5 mg every other day',
    ],
    ['no frequency at all', mg(1000), '1000 mg per dose, frequency not recorded'],
    [
      'a frequency only in the instructions',
      { ...mg(1000), text: 'take one in the morning and one at night' },
      '1000 mg per dose, frequency not coded, instructions: "take one in the morning and one at night"',
    ],
    ['as needed', { ...mg(500), asNeededBoolean: true }, '500 mg per dose, as needed'],
    [
      'a dose in grams',
      {
        doseAndRate: [{ doseQuantity: { value: 1, code: 'g' } }],
        timing: { code: { text: 'BID' } },
      },
      '1 g twice daily (2000 mg/day)',
    ],
    [
      'tablets (no daily mass)',
      {
        doseAndRate: [{ doseQuantity: { value: 2, code: '{tablet}' } }],
        timing: { code: { text: 'BID' } },
      },
      '2 tablets twice daily',
    ],
  ])('describes %s', (_case, dosage, expected) => {
    expect(describeDose([dosage])?.text).toBe(expected);
  });

  it("takes Epic's ordered dose among typed doseAndRate entries", () => {
    const typed = (code: string, value: number) => ({
      type: { coding: [{ system: 'http://epic.com/CodeSystem/dose-rate-type', code }] },
      doseQuantity: { value, code: 'mg' },
    });
    const dosage: Dosage = {
      doseAndRate: [typed('calculated', 12.5), typed('admin-amount', 1), typed('ordered', 1000)],
      timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } },
    };
    expect(describeDose([dosage])?.text).toBe('1000 mg twice daily (2000 mg/day)');
  });

  it('falls back to the text when there is no structured dose, and to nothing without either', () => {
    expect(describeDose([{ text: '1 g BID' }])?.text).toBe('1 g BID');
    expect(describeDose([{}])).toBeUndefined();
    expect(describeDose(undefined)).toBeUndefined();
  });
});
