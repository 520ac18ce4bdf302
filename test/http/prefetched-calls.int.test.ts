/**
 * Calls answered on an evaluation worker from their raw body (prefetched-call.ts) against the same
 * calls answered on the HTTP thread with the in-process engine: same cards, same errors, same FHIR
 * reads, the card ledger filled either way.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { createEnginePool, type EnginePool } from '../../src/engine/engine-pool.js';
import { PREFETCHED_CALL_JOB, prefetchedCallsOn } from '../../src/cds-hooks/prefetched-call.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { FhirResourceJson } from '../../src/fhir/patient-data-source.js';
import {
  MemoryDataSource,
  makeCdsRequest,
  makeDeps,
  searchset,
  type LogCapture,
} from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';
const DEMO = fileURLToPath(new URL('../../demo/', import.meta.url));

/** A demo Bundle as a complete prefetch, as an EHR sends it. */
function prefetchOf(path: string): { patientId: string; prefetch: Record<string, unknown> } {
  const bundle = JSON.parse(readFileSync(`${DEMO}${path}`, 'utf8')) as {
    entry: { resource: FhirResourceJson }[];
  };
  const resources = bundle.entry.map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient')!;
  const ofType = (type: string): FhirResourceJson =>
    searchset(...resources.filter((r) => r.resourceType === type));
  const empty = searchset();
  return {
    patientId: String(patient.id),
    prefetch: {
      patient,
      conditions: ofType('Condition'),
      observationsLaboratory: ofType('Observation'),
      observationsVitalSigns: empty,
      observationsSurvey: empty,
      observationsImaging: empty,
      observationsProcedure: empty,
      observationsExam: empty,
      medicationRequests: ofType('MedicationRequest'),
      medicationStatements: ofType('MedicationStatement'),
      medicationAdministrations: ofType('MedicationAdministration'),
      medicationDispenses: ofType('MedicationDispense'),
      allergyIntolerances: ofType('AllergyIntolerance'),
      procedures: ofType('Procedure'),
    },
  };
}

function callFor(path: string): Record<string, unknown> {
  const { patientId, prefetch } = prefetchOf(path);
  return makeCdsRequest({
    context: { userId: 'Practitioner/example', patientId },
    prefetch,
  });
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Card and suggestion uuids differ between the two apps; everything else must not. */
function withoutUuids(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body).replace(UUID, 'uuid')) as unknown;
}

interface Pair {
  readonly worker: Express;
  readonly local: Express;
  readonly workerSource: MemoryDataSource;
  readonly localSource: MemoryDataSource;
  readonly remembered: string[];
  readonly workerLogs: LogCapture;
}

let pool: EnginePool;
const localEngine = loadEligibilityEngine();
beforeAll(async () => {
  pool = await createEnginePool({ size: 1, jobs: [PREFETCHED_CALL_JOB] });
}, 60_000);
afterAll(async () => {
  await pool.close();
});

function apps(fhirAnswers: Record<string, FhirResourceJson> = {}): Pair {
  const workerSource = new MemoryDataSource(fhirAnswers);
  const localSource = new MemoryDataSource(fhirAnswers);
  const remembered: string[] = [];
  const config = { corsOrigins: [], bodyLimit: '5mb' };
  const workerDeps = makeDeps({
    config,
    engine: pool,
    prefetchedCalls: prefetchedCallsOn(pool),
    dataSource: workerSource,
    cardLedger: {
      remember: (call) => {
        remembered.push(...call.cards.map((c) => `${call.hookInstance} ${c.trialId}`));
        return Promise.resolve();
      },
      lookup: () => Promise.resolve(undefined),
    },
  });
  return {
    worker: createApp(workerDeps),
    local: createApp(makeDeps({ config, engine: localEngine, dataSource: localSource })),
    workerSource,
    localSource,
    remembered,
    workerLogs: workerDeps.logs,
  };
}

async function both(
  pair: Pair,
  body: string | object,
  contentType = 'application/json',
): Promise<{ status: number; body: unknown }[]> {
  const send = async (app: Express) => {
    const res = await request(app).post(CALL).set('content-type', contentType).send(body);
    return { status: res.status, body: withoutUuids(res.body) };
  };
  return [await send(pair.worker), await send(pair.local)];
}

test('an SLE patient with complete prefetch: the same cards, remembered, no FHIR read', async () => {
  const pair = apps();
  const call = callFor('patients/sle-eligible.json');
  const [worker, local] = await both(pair, call);
  expect(worker!.status).toBe(200);
  expect((worker!.body as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  expect(worker).toEqual(local);
  expect(pair.workerSource.calls).toEqual([]);
  expect(pair.remembered.length).toBe((worker!.body as { cards: unknown[] }).cards.length);
  expect(pair.remembered.every((r) => r.startsWith(String(call.hookInstance)))).toBe(true);
  const answered = pair.workerLogs.records.find((r) => r.msg === 'patient-view answered');
  expect(answered?.hookInstance).toBe(call.hookInstance);
  expect(answered?.answeredBy).toBe('worker');
  // Issue 18: cards made on a worker carry the pool's rules version, as the in-process ones do.
  expect(pool.rulesVersion).toMatch(/^sha256:[0-9a-f]{16}$/);
  expect(pool.rulesVersion).toBe(localEngine.rulesVersion);
  const cards = (
    worker!.body as { cards: { extension?: Record<string, { rulesVersion?: string }> }[] }
  ).cards;
  expect(cards.map((c) => c.extension?.['cds-trial-matcher']?.rulesVersion)).toEqual(
    cards.map(() => pool.rulesVersion),
  );
});

test.each([
  'patients/ssc-ild.json',
  'patients/sle-missing-labs.json',
  'synthea/Tom_Goodwin_e20de9eb-6f2d-4871-a43f-bbede53293ed.json',
])('%s: the same answer', async (path) => {
  const [worker, local] = await both(apps(), callFor(path));
  expect(worker!.status).toBe(200);
  expect(worker).toEqual(local);
});

test('a UTF-8 byte-order mark is ignored, as express.json does', async () => {
  const text = `\uFEFF${JSON.stringify(callFor('patients/sle-eligible.json'))}`;
  const [worker, local] = await both(apps(), text);
  expect(worker!.status).toBe(200);
  expect(worker).toEqual(local);
});

test.each([
  ['not JSON', '{"hook": '],
  ['a JSON string', '"patient-view"'],
  ['an empty body', ''],
  ['an array', '[]'],
  ['no hookInstance', JSON.stringify({ hook: 'patient-view', context: {} })],
  ['nested too deeply', `{"hook":${'['.repeat(200)}${']'.repeat(200)}}`],
])('%s: the same error as on the HTTP thread', async (_name, text) => {
  const [worker, local] = await both(apps(), text);
  expect(worker!.status).toBe(400);
  expect(worker).toEqual(local);
});

test('a charset other than UTF-8 is parsed (or refused) as before', async () => {
  const text = JSON.stringify(callFor('patients/sle-eligible.json'));
  for (const type of ['application/json; charset=utf8', 'application/json; charset=latin1']) {
    const [worker, local] = await both(apps(), text, type);
    expect(worker).toEqual(local);
  }
});

test('a patient that does not match context.patientId: the same 400', async () => {
  const call = callFor('patients/sle-eligible.json');
  const [worker, local] = await both(apps(), {
    ...call,
    context: { userId: 'Practitioner/example', patientId: 'someone-else' },
  });
  expect(worker!.status).toBe(400);
  expect(worker).toEqual(local);
});

test('a prefetch key that must be fetched: answered on the HTTP thread with the same reads', async () => {
  const { patientId, prefetch } = prefetchOf('patients/sle-eligible.json');
  const conditions = prefetch.conditions as FhirResourceJson;
  const fhirServer = 'https://ehr.example.org/fhir';
  const pair = apps({ [`Condition?patient=${patientId}`]: conditions });
  const call = makeCdsRequest({
    fhirServer,
    context: { userId: 'Practitioner/example', patientId },
    prefetch: { ...prefetch, conditions: undefined },
  });
  const [worker, local] = await both(pair, call);
  expect(worker!.status).toBe(200);
  expect((worker!.body as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  expect(worker).toEqual(local);
  expect(pair.workerSource.calls.map((c) => c.query)).toEqual(
    pair.localSource.calls.map((c) => c.query),
  );
  expect(pair.workerSource.calls.length).toBe(1);
  const answered = pair.workerLogs.records.find((r) => r.msg === 'patient-view answered');
  expect(answered?.answeredBy).toBe('http-thread');
});

test('the time budget holds on the worker path: no cards past it', async () => {
  const app = createApp(
    makeDeps({
      config: { corsOrigins: [], bodyLimit: '5mb' },
      engine: pool,
      prefetchedCalls: prefetchedCallsOn(pool),
      requestBudgetMs: 1,
    }),
  );
  const res = await request(app).post(CALL).send(callFor('patients/sle-eligible.json'));
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ cards: [] });
});
