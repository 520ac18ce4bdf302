/**
 * Issue 15 items 1 and 5 through POST /cds-services/trial-matcher: another patient's resources
 * (in the prefetch, on the worker path that answers from the raw body, and from a FHIR server that
 * ignores `?patient=`), resources of a type their prefetch key cannot hold, malformed values and
 * an evaluation error in one criterion.
 */
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { answerPrefetchedCall } from '../../src/cds-hooks/prefetched-call.js';
import type { PatientBundle } from '../../src/fhir/patient-bundle.js';
import type { FhirResourceJson } from '../../src/fhir/patient-data-source.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { engineWithFailingWeightCriterion } from '../support/failing-engine.js';
import { bodyWeight, daysAgo, sle } from '../support/fhir-builders.js';
import {
  fakeEngine,
  fullPrefetch,
  makeCdsRequest,
  makeDeps,
  MemoryDataSource,
  PATIENT_ID,
  SERVICE,
  searchset,
} from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';
const OTHER = 'other-patient-9f2';

function weight(id: string, subject: string, value: unknown = 70): FhirResourceJson {
  const observation = bodyWeight(70, { id, date: daysAgo(5) });
  return {
    ...observation,
    subject: { reference: subject },
    valueQuantity: { ...observation.valueQuantity, value },
  };
}

/** An engine that records the record it was handed. */
function recordingEngine(): { engine: EligibilityEngine; seen: PatientBundle[] } {
  const seen: PatientBundle[] = [];
  const engine = fakeEngine((patient, asOf) => {
    seen.push(patient);
    return Promise.resolve({ patientId: patient.patientId, asOf, trials: [] });
  });
  return { engine, seen };
}

const ids = (bundle: PatientBundle): string[] =>
  (bundle.bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();

/** A prefetch mixing the patient's own resources with another patient's and a misplaced one. */
function mixedPrefetch(): Record<string, unknown> {
  return {
    ...fullPrefetch(),
    observationsVitalSigns: searchset(
      weight('own-relative', `Patient/${PATIENT_ID}`),
      weight('own-absolute', `https://ehr.example/fhir/Patient/${PATIENT_ID}`),
      weight('own-urn', `urn:uuid:${PATIENT_ID}`),
      weight('foreign-1', `Patient/${OTHER}`),
      weight('foreign-2', `https://ehr.example/fhir/Patient/${OTHER}`),
    ),
    conditions: searchset(
      { ...sle({ id: 'own-sle' }), subject: { reference: `Patient/${PATIENT_ID}` } },
      { resourceType: 'Patient', id: OTHER },
    ),
    // A Condition where only Observations can be: the key's query cannot answer it.
    observationsLaboratory: searchset({
      ...sle({ id: 'misplaced' }),
      subject: { reference: `Patient/${PATIENT_ID}` },
    }),
  };
}

const OWN = [
  'Condition/own-sle',
  'Observation/own-absolute',
  'Observation/own-relative',
  'Observation/own-urn',
  `Patient/${PATIENT_ID}`,
];

function expectDroppedLogged(lines: string[], records: Record<string, unknown>[]): void {
  const warning = records.find((r) => String(r.msg).startsWith('resources left out'));
  expect(warning).toMatchObject({
    foreign: { Observation: 2 },
    // A Patient in the Condition search, a Condition in the Observation search.
    unexpected: { Condition: 1, Patient: 1 },
  });
  // Counts and types only: no id of either patient, no resource id.
  const all = lines.join('\n');
  expect(all).not.toContain(OTHER);
  expect(all).not.toContain('foreign-1');
}

describe("another patient's resources (issue 15 item 1)", () => {
  it('are left out of the record on the HTTP thread, and logged by type', async () => {
    const { engine, seen } = recordingEngine();
    const deps = makeDeps({ engine });
    const res = await request(createApp(deps))
      .post(CALL)
      .send(makeCdsRequest({ prefetch: mixedPrefetch() }));
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(ids(seen[0]!)).toEqual(OWN);
    expectDroppedLogged(deps.logs.lines, deps.logs.records);
  });

  it('are left out on the worker path that answers from the raw body', async () => {
    const { engine, seen } = recordingEngine();
    const deps = makeDeps({
      engine,
      config: { corsOrigins: [], bodyLimit: '1mb' },
      prefetchedCalls: {
        answerPrefetched: (call, options) =>
          answerPrefetchedCall(call, engine, {
            ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
          }),
      },
    });
    const res = await request(createApp(deps))
      .post(CALL)
      .send(makeCdsRequest({ prefetch: mixedPrefetch() }));
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(ids(seen[0]!)).toEqual(OWN);
    expect(deps.logs.records.find((r) => r.msg === 'patient-view answered')).toMatchObject({
      answeredBy: 'worker',
    });
    expectDroppedLogged(deps.logs.lines, deps.logs.records);
  });

  it('are left out when a FHIR server ignores ?patient=', async () => {
    const { engine, seen } = recordingEngine();
    const prefetch = mixedPrefetch();
    // The Observation search (by code) answers what the two category keys held above.
    const entries = (key: string) =>
      (prefetch[key] as { entry: { resource: FhirResourceJson }[] }).entry.map((e) => e.resource);
    const dataSource = new MemoryDataSource({
      [`Condition?patient=${PATIENT_ID}`]: prefetch.conditions as FhirResourceJson,
      [(SERVICE.prefetch?.observations ?? '').replace('{{context.patientId}}', PATIENT_ID)]:
        searchset(...entries('observationsVitalSigns'), ...entries('observationsLaboratory')),
    });
    const deps = makeDeps({ engine, dataSource });
    const given = fullPrefetch();
    delete given.conditions;
    delete given.observations;
    const res = await request(createApp(deps))
      .post(CALL)
      .send(makeCdsRequest({ prefetch: given, fhirServer: 'https://ehr.example/fhir' }));
    expect(res.status).toBe(200);
    expect(dataSource.calls).toHaveLength(2);
    expect(ids(seen[0]!)).toEqual(OWN);
    expectDroppedLogged(deps.logs.lines, deps.logs.records);
  });
});

describe('malformed values and evaluation errors (issue 15 item 5)', () => {
  let engine: EligibilityEngine;
  beforeAll(() => {
    engine = loadEligibilityEngine();
  });

  it.each([
    ['a numeric string', '0.8'],
    ['"NaN"', 'NaN'],
    ['a Boolean', true],
    ['1e29', 1e29],
    ['a negative weight', -70],
  ])('answers cards for %s in a weight', async (_name, value) => {
    const deps = makeDeps({ engine });
    const res = await request(createApp(deps))
      .post(CALL)
      .send(
        makeCdsRequest({
          prefetch: {
            ...fullPrefetch(),
            conditions: searchset({
              ...sle(),
              subject: { reference: `Patient/${PATIENT_ID}` },
            }),
            observationsVitalSigns: searchset(weight('w', `Patient/${PATIENT_ID}`, value)),
          },
        }),
      );
    expect(res.status).toBe(200);
    expect((res.body as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  });

  it('answers the other trials when one criterion cannot be evaluated, and logs it', async () => {
    const deps = makeDeps({ engine: engineWithFailingWeightCriterion() });
    const res = await request(createApp(deps))
      .post(CALL)
      .send(
        makeCdsRequest({
          prefetch: {
            ...fullPrefetch(),
            conditions: searchset({
              ...sle(),
              subject: { reference: `Patient/${PATIENT_ID}` },
            }),
          },
        }),
      );
    expect(res.status).toBe(200);
    expect((res.body as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
    expect(
      deps.logs.records.find((r) => String(r.msg).startsWith('criteria could not be evaluated')),
    ).toMatchObject({ evaluationErrors: 1 });
  });
});
