/**
 * Regressions from the fidelity review: results without units, results in words, lupus nephritis
 * of unstated class (the SSc-ILD change is covered in nct06822881.int.test.ts).
 */
import type { FhirResource } from 'fhir/r4.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { toPatientBundle } from '../../src/fhir/patient-bundle.js';
import {
  AS_OF,
  bundle,
  condition,
  daysAgo,
  observation,
  patient,
  score,
  sle,
} from '../support/fhir-builders.js';

let engine: EligibilityEngine;
beforeAll(() => {
  engine = loadEligibilityEngine();
});

async function resultOf(
  trialId: string,
  criterionId: string,
  ...resources: FhirResource[]
): Promise<string | undefined> {
  const screening = await engine.screen(toPatientBundle(bundle(patient(), ...resources)), AS_OF, [
    trialId,
  ]);
  return screening.trials[0]?.criteria.find((c) => c.id === criterionId)?.result;
}

function lvefWithoutUnit(value: number): FhirResource {
  const o = observation(
    '10230-1',
    { quantity: value, unit: '%' },
    { date: daysAgo(10), category: 'imaging' },
  );
  o.valueQuantity = { value };
  return o;
}

describe('reading results', () => {
  it('leaves an LVEF without a unit unknown rather than scaling it to 4500 %', async () => {
    expect(await resultOf('NCT07339332', 'lvef', sle(), lvefWithoutUnit(45))).toBe('unknown');
  });

  it.each([
    ['Positive', 'pass'],
    ['NEGATIVE', 'fail'],
    ['not detected', 'fail'],
    ['see comment', 'unknown'],
  ])('reads an ANA written as "%s" in valueString', async (word, expected) => {
    const ana = observation('8061-4', { string: word });
    const others = [
      observation('5130-0', { string: 'negative' }),
      observation('11090-8', { string: 'negative' }),
    ];
    expect(await resultOf('NCT07339332', 'autoantibody-positive', sle(), ana, ...others)).toBe(
      expected,
    );
  });
});

describe('NCT07339332 sledai-7-or-organ-dysfunction', () => {
  it('needs review when SLEDAI-2K is below 7 and lupus nephritis of unstated class is on record', async () => {
    const nephritis = condition({ code: '68815009', display: 'SLE glomerulonephritis syndrome' });
    expect(
      await resultOf(
        'NCT07339332',
        'sledai-7-or-organ-dysfunction',
        sle(),
        nephritis,
        score('SLEDAI-2K', 5),
      ),
    ).toBe('unknown');
  });

  it('fails when SLEDAI-2K is below 7 and no nephritis or thrombocytopenia is on record', async () => {
    expect(
      await resultOf('NCT07339332', 'sledai-7-or-organ-dysfunction', sle(), score('SLEDAI-2K', 5)),
    ).toBe('fail');
  });
});
