/** Issue 5: the per-request time budget, and a defined answer for each fault and bad input. */
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { ScreeningEngine } from '../../src/cds-hooks/patient-view.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import type {
  FhirQuery,
  FhirResourceJson,
  PatientDataSource,
} from '../../src/fhir/patient-data-source.js';
import { EngineDeadlineError, EngineOverloadedError } from '../../src/shared/errors.js';
import { CqlEvaluationError } from '../../src/shared/errors.js';
import { OperationOutcomeSchema } from '../cds-hooks/spec-schemas.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import {
  makeCdsRequest,
  makeDeps,
  PATIENT_ID,
  PATIENT_NAME,
  patientResource,
} from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';

/** A FHIR server that never answers, until the request is cancelled. */
class HangingDataSource implements PatientDataSource {
  readonly aborted: FhirQuery[] = [];
  fetch(query: FhirQuery): Promise<FhirResourceJson> {
    return new Promise((_resolve, reject) => {
      query.signal?.addEventListener('abort', () => {
        this.aborted.push(query);
        reject(new Error('aborted'));
      });
    });
  }
}

describe('the time budget (REQUEST_BUDGET_MS)', () => {
  it('answers {"cards": []} when the FHIR server hangs, and cancels the reads', async () => {
    const dataSource = new HangingDataSource();
    const deps = makeDeps({ dataSource, requestBudgetMs: 200 });
    const started = Date.now();
    const res = await request(createApp(deps))
      .post(CALL)
      .send(makeCdsRequest({ prefetch: {}, fhirServer: 'https://ehr.example.org/fhir' }))
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(dataSource.aborted.length).toBeGreaterThan(0);
    expect(deps.logs.records.some((r) => r.msg === 'time budget exceeded: answered no cards')).toBe(
      true,
    );
  });

  it('gives the engine the deadline and the signal, and abandons a slow evaluation', async () => {
    const seen: { deadline?: number; aborted?: boolean }[] = [];
    const engine: ScreeningEngine = {
      trials: [],
      screen: (_patient, _asOf, _ids, options) =>
        new Promise((_resolve, reject) => {
          seen.push({ ...(options?.deadline !== undefined ? { deadline: options.deadline } : {}) });
          options?.signal?.addEventListener('abort', () => {
            seen[0] = { ...seen[0], aborted: true };
            reject(new Error('abandoned'));
          });
        }),
    };
    const res = await request(createApp(makeDeps({ engine, requestBudgetMs: 150 })))
      .post(CALL)
      .send(makeCdsRequest())
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
    expect(seen[0]?.deadline).toEqual(expect.any(Number));
    expect(seen[0]?.aborted).toBe(true);
  });

  it('answers no cards when the engine gives up at its deadline', async () => {
    const engine: ScreeningEngine = {
      trials: [],
      screen: () => Promise.reject(new EngineDeadlineError('deadline passed')),
    };
    const deps = makeDeps({ engine, requestBudgetMs: 1000 });
    const res = await request(createApp(deps)).post(CALL).send(makeCdsRequest()).expect(200);
    expect(res.body).toEqual({ cards: [] });
  });

  it('answers no cards, with a log line, when the engine is overloaded', async () => {
    const engine: ScreeningEngine = {
      trials: [],
      screen: () => Promise.reject(new EngineOverloadedError('queue full')),
    };
    const deps = makeDeps({ engine, requestBudgetMs: 1000 });
    const res = await request(createApp(deps)).post(CALL).send(makeCdsRequest()).expect(200);
    expect(res.body).toEqual({ cards: [] });
    expect(deps.logs.records.some((r) => r.msg === 'engine overloaded: answered no cards')).toBe(
      true,
    );
  });

  it('answers no cards when an engine on the HTTP thread finishes past the budget', async () => {
    const engine: ScreeningEngine = {
      trials: [],
      screen: (patient, asOf) => {
        const until = Date.now() + 150;
        while (Date.now() < until); // cql-execution holds the event loop like this
        return Promise.resolve({ patientId: patient.patientId, asOf, trials: [] });
      },
    };
    const res = await request(createApp(makeDeps({ engine, requestBudgetMs: 50 })))
      .post(CALL)
      .send(makeCdsRequest())
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
  });
});

describe('faults', () => {
  let fake: FakeFhirServer;
  const dataSource = new FhirKitDataSource({ timeoutMs: 300, maxPages: 3 });
  beforeAll(async () => {
    fake = await startFakeFhirServer(() => undefined);
  });
  afterAll(async () => {
    await Promise.all([fake.close(), dataSource.close()]);
  });

  const answers: [string, FakeFhirServer['handler']][] = [
    [
      'HTTP 500',
      (_q, res) => {
        sendJson(res, 500, {});
      },
    ],
    [
      'HTTP 401',
      (_q, res) => {
        sendJson(res, 401, {});
      },
    ],
    ['a timeout', () => undefined],
    [
      'invalid JSON',
      (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"resourceType": "Pat');
      },
    ],
    [
      'the wrong resource type',
      (_q, res) => {
        sendJson(res, 200, { resourceType: 'Observation', id: 'x' });
      },
    ],
    [
      'an OperationOutcome',
      (_q, res) => {
        sendJson(res, 200, {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'forbidden' }],
        });
      },
    ],
  ];

  it.each(answers)(
    'the FHIR server answering %s gives 412 with an OperationOutcome',
    async (_name, handler) => {
      fake.handler = handler;
      const deps = makeDeps({ dataSource, requestBudgetMs: 5000 });
      const res = await request(createApp(deps))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: fake.base }))
        .expect(412);
      expect(OperationOutcomeSchema.parse(res.body).issue[0]?.code).toBe('processing');
    },
  );

  it.each([
    ['a CqlEvaluationError', new CqlEvaluationError('NCT07339332: "Age" is not a Boolean')],
    [
      'a library error quoting patient data',
      new Error(`cannot read ${PATIENT_NAME} ${PATIENT_ID}`),
    ],
  ])('%s gives a generic 500 OperationOutcome with no patient data', async (_name, error) => {
    const engine: ScreeningEngine = { trials: [], screen: () => Promise.reject(error) };
    const deps = makeDeps({ engine });
    const res = await request(createApp(deps)).post(CALL).send(makeCdsRequest()).expect(500);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'exception', diagnostics: 'internal error' }],
    });
    const everything = JSON.stringify(res.body) + deps.logs.lines.join('\n');
    expect(everything).not.toContain(PATIENT_NAME.split(' ')[0]);
    expect(everything).not.toContain(PATIENT_ID);
  });
});

describe('bad input', () => {
  const app = () => createApp(makeDeps());
  const post = (body: string) =>
    request(app()).post(CALL).set('Content-Type', 'application/json').send(body);

  it('answers 400 to truncated JSON', async () => {
    const json = JSON.stringify(makeCdsRequest());
    for (const cut of [1, 10, json.length / 2, json.length - 1])
      await post(json.slice(0, Math.floor(cut))).expect(400);
  });

  it('answers 400 to deeply nested JSON, in prefetch or anywhere', async () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    await post(deep(30_000)).expect(400);
    const body = JSON.stringify(makeCdsRequest()).replace(
      '"prefetch":{',
      `"prefetch":{"junk":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},`,
    );
    const res = await post(body).expect(400);
    expect(res.body.issue[0].diagnostics).toMatch(/nested too deeply/);
  });

  it('answers 400 or 413 to huge strings', async () => {
    const huge = 'x'.repeat(90_000);
    await request(app())
      .post(CALL)
      .send(makeCdsRequest({ hookInstance: huge }))
      .expect(400);
    await request(app())
      .post(CALL)
      .send(makeCdsRequest({ context: { userId: 'Practitioner/x', patientId: huge } }))
      .expect(400);
    await request(app())
      .post(CALL)
      .send(makeCdsRequest({ extension: { a: 'y'.repeat(200_000) } }))
      .expect(413);
  });

  const wrongValues: unknown[] = [null, 0, 1.5, true, '', 'x', [], {}, ['x'], { a: 1 }];
  const fields = [
    'hook',
    'hookInstance',
    'fhirServer',
    'fhirAuthorization',
    'context',
    'context.userId',
    'context.patientId',
    'context.encounterId',
    'prefetch',
    'prefetch.patient',
    'fhirAuthorization.access_token',
    'fhirAuthorization.expires_in',
  ];

  it.each(fields)('answers 200 or 4xx, never 5xx, to every wrong type in %s', async (field) => {
    for (const value of wrongValues) {
      const body = makeCdsRequest({
        fhirServer: 'https://ehr.example.org/fhir',
        fhirAuthorization: {
          access_token: 't',
          token_type: 'Bearer',
          expires_in: 300,
          scope: 'patient/*.read',
          subject: 's',
        },
      });
      const path = field.split('.');
      let target = body;
      for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
      target[path.at(-1) as string] = value;
      const res = await request(app()).post(CALL).send(body);
      expect([200, 400, 412]).toContain(res.status);
      if (res.status !== 200) OperationOutcomeSchema.parse(res.body);
    }
  });

  it('answers 400 to a body that is not an object', async () => {
    for (const body of ['[]', '"x"', '1', 'null']) await post(body).expect(400);
  });

  it('keeps a patient resource with odd values from crashing the handler', async () => {
    const res = await request(app())
      .post(CALL)
      .send(
        makeCdsRequest({
          prefetch: { patient: { ...patientResource(), birthDate: 42, name: 'x'.repeat(1000) } },
        }),
      );
    expect(res.status).toBeLessThan(500);
  });
});
