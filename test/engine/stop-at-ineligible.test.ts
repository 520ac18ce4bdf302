/**
 * `stopAtIneligible` (what the CDS service asks for): the same statuses as a full evaluation for
 * every trial, the same result for every trial it does not rule out, and for a trial it rules out
 * a subset of the full checklist that holds the criterion that ruled it out.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { PatientScreening } from '../../src/domain/screening.js';
import { toPatientBundle, type PatientBundle } from '../../src/fhir/patient-bundle.js';
import { generatePatient, seededRandom, toBundle } from '../support/synthetic-population.js';
import { AS_OF } from '../support/fhir-builders.js';

const DEMO = fileURLToPath(new URL('../../demo/', import.meta.url));

function demoPatients(): [string, PatientBundle][] {
  return ['patients', 'synthea'].flatMap((dir) =>
    readdirSync(`${DEMO}${dir}`)
      .filter((f) => f.endsWith('.json'))
      .map((f): [string, PatientBundle] => [
        `${dir}/${f}`,
        toPatientBundle(JSON.parse(readFileSync(`${DEMO}${dir}/${f}`, 'utf8')) as unknown),
      ]),
  );
}

function generatedPatients(count: number): [string, PatientBundle][] {
  const random = seededRandom(20261122);
  return Array.from({ length: count }, (_, i): [string, PatientBundle] => {
    const patient = generatePatient(i, random, AS_OF);
    return [patient.id, toPatientBundle(toBundle(patient))];
  });
}

const engine = loadEligibilityEngine();

function expectConsistent(full: PatientScreening, stopped: PatientScreening): void {
  expect(stopped.trials.map((t) => t.id)).toEqual(full.trials.map((t) => t.id));
  full.trials.forEach((whole, index) => {
    const part = stopped.trials[index]!;
    expect(part.status).toBe(whole.status);
    if (part.stoppedEarly !== true) {
      expect(part).toEqual(whole);
      return;
    }
    expect(part.status).toBe('ineligible');
    expect(part.criteria.length).toBeLessThan(whole.criteria.length);
    for (const criterion of part.criteria) {
      expect(
        whole.criteria.find((c) => c.id === criterion.id && c.cohort === criterion.cohort),
      ).toEqual(criterion);
    }
    expect(part.criteria.some((c) => c.result === 'fail')).toBe(true);
  });
}

test.each([...demoPatients(), ...generatedPatients(80)])(
  '%s: same statuses and same results for the trials not ruled out',
  async (_name, patient) => {
    const full = await engine.screen(patient, AS_OF);
    const stopped = await engine.screen(patient, AS_OF, undefined, { stopAtIneligible: true });
    expectConsistent(full, stopped);
  },
);

test('a patient without SLE or SSc is ruled out of every trial by its gates alone', async () => {
  const [, synthea] = demoPatients().find(([name]) => name.startsWith('synthea/'))!;
  const stopped = await engine.screen(synthea, AS_OF, undefined, { stopAtIneligible: true });
  for (const trial of stopped.trials) {
    expect(trial.stoppedEarly).toBe(true);
    const gates = new Set(
      engine.trials
        .find((t) => t.id === trial.id)!
        .criteria.filter((c) => c.gate === true)
        .map((c) => c.id),
    );
    expect(trial.criteria.map((c) => c.id).sort()).toEqual([...gates].sort());
    expect(trial.criteria.every((c) => c.result === 'fail')).toBe(true);
  }
});
