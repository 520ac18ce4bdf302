import request from 'supertest';
import { createApp } from '../../src/app.js';
import { FhirUnavailableError } from '../../src/shared/errors.js';
import {
  MemoryDataSource,
  PATIENT_ID,
  PREFETCH_KEYS,
  TOKEN,
  fakeEngine,
  fullPrefetch,
  makeCdsRequest,
  makeDeps,
  patientResource,
  searchset,
} from '../support/http-deps.js';
import {
  OperationOutcomeSchema,
  SpecDiscoverySchema,
  SpecResponseSchema,
} from '../cds-hooks/spec-schemas.js';

const FHIR = 'https://ehr.example.org/fhir';

function without(prefetch: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(prefetch).filter(([k]) => !keys.includes(k)));
}
const CALL = '/cds-services/trial-matcher';

function expectOutcome(body: unknown, code: string, expression?: string): void {
  const outcome = OperationOutcomeSchema.parse(body);
  expect(outcome.issue[0]?.code).toBe(code);
  if (expression !== undefined) expect(outcome.issue[0]?.expression).toContain(expression);
}

describe('GET /cds-services', () => {
  it('lists the trial-matcher service in a spec-conformant discovery document', async () => {
    const res = await request(createApp(makeDeps())).get('/cds-services').expect(200);
    const doc = SpecDiscoverySchema.parse(res.body);
    expect(doc.services.map((s) => [s.id, s.hook])).toEqual([['trial-matcher', 'patient-view']]);
    expect(JSON.stringify(res.body)).not.toContain('optionalPrefetch');
    expect(JSON.stringify(res.body)).not.toContain('legacyPrefetch');
    expect(JSON.stringify(res.body)).not.toContain('observationsLaboratory');
  });
});

describe('GET /healthz', () => {
  it('answers 200 ok', async () => {
    const res = await request(createApp(makeDeps())).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('POST /cds-services/{id}', () => {
  describe('with complete prefetch', () => {
    it('answers {"cards": []} when no trial applies, without calling the FHIR server', async () => {
      const dataSource = new MemoryDataSource();
      const app = createApp(makeDeps({ dataSource }));
      const res = await request(app).post(CALL).send(makeCdsRequest()).expect(200);
      expect(res.body).toEqual({ cards: [] });
      SpecResponseSchema.parse(res.body);
      expect(dataSource.calls).toEqual([]);
    });

    it('passes the assembled patient record and today to the engine', async () => {
      const seen: { patientId: string; asOf: string; types: string[] }[] = [];
      const engine = fakeEngine((patient, asOf) => {
        seen.push({
          patientId: patient.patientId,
          asOf,
          types: (patient.bundle.entry ?? []).map((e) => e.resource?.resourceType ?? ''),
        });
        return Promise.resolve({ patientId: patient.patientId, asOf, trials: [] });
      });
      const prefetch = {
        ...fullPrefetch(),
        conditions: searchset({
          resourceType: 'Condition',
          id: 'c1',
          subject: { reference: `Patient/${PATIENT_ID}` },
          code: { text: 'x' },
        }),
        observationsLaboratory: searchset(
          { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' } },
          {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'warning', code: 'incomplete' }],
          },
        ),
        // the same Observation under two categories counts once
        observationsSurvey: searchset({
          resourceType: 'Observation',
          id: 'o1',
          status: 'final',
          code: { text: 'x' },
        }),
      };
      await request(createApp(makeDeps({ engine })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch }))
        .expect(200);
      expect(seen).toEqual([
        {
          patientId: PATIENT_ID,
          asOf: '2026-11-22',
          types: ['Patient', 'Condition', 'Observation'],
        },
      ]);
    });
  });

  describe('prefetch semantics', () => {
    it('treats a null key as "no data" and fetches nothing', async () => {
      const dataSource = new MemoryDataSource();
      const prefetch = { ...fullPrefetch(), conditions: null, medicationRequests: null };
      await request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch, fhirServer: FHIR }))
        .expect(200, { cards: [] });
      expect(dataSource.calls).toEqual([]);
    });

    it('logs the types read only in part, without patient data, when a searchset says some was withheld (issue 12)', async () => {
      const deps = makeDeps();
      const prefetch = fullPrefetch();
      prefetch.conditions = {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [
          {
            resource: {
              resourceType: 'OperationOutcome',
              issue: [
                {
                  severity: 'warning',
                  code: 'suppressed',
                  diagnostics: 'Health Concerns withheld',
                },
              ],
            },
            search: { mode: 'outcome' },
          },
        ],
      };
      await request(createApp(deps))
        .post(CALL)
        .send(makeCdsRequest({ prefetch }))
        .expect(200, { cards: [] });
      const warning = deps.logs.records.find((r) =>
        String(r.msg).startsWith('the record was read only in part'),
      );
      expect(warning).toMatchObject({ partial: { Condition: 'withheld' } });
      expect(deps.logs.lines.join('\n')).not.toContain(PATIENT_ID);
    });

    it('uses the category keys of earlier definitions when an EHR still sends them, and then does not fetch observations', async () => {
      const dataSource = new MemoryDataSource();
      let observations: string[] = [];
      const engine = fakeEngine((patient, asOf) => {
        observations = (patient.bundle.entry ?? [])
          .filter((e) => e.resource?.resourceType === 'Observation')
          .map((e) => e.resource?.id ?? '');
        return Promise.resolve({ patientId: patient.patientId, asOf, trials: [] });
      });
      const prefetch = without(fullPrefetch(), 'observations');
      prefetch.observationsLaboratory = searchset({
        resourceType: 'Observation',
        id: 'legacy-lab',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
        subject: { reference: `Patient/${PATIENT_ID}` },
      });
      await request(createApp(makeDeps({ dataSource, engine })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch, fhirServer: FHIR }))
        .expect(200, { cards: [] });
      expect(dataSource.calls).toEqual([]);
      expect(observations).toEqual(['legacy-lab']);
    });

    it('fetches only the missing keys, with the access token', async () => {
      const dataSource = new MemoryDataSource();
      const partial = without(fullPrefetch(), 'conditions', 'observations');
      await request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(
          makeCdsRequest({
            prefetch: partial,
            fhirServer: FHIR,
            fhirAuthorization: {
              access_token: TOKEN,
              token_type: 'Bearer',
              expires_in: 300,
              scope: 'patient/*.read',
              subject: 'cds-service',
            },
          }),
        )
        .expect(200, { cards: [] });
      expect(dataSource.calls.map((c) => [c.fhirServer, c.query, c.accessToken])).toEqual([
        [FHIR, `Condition?patient=${PATIENT_ID}`, TOKEN],
        [
          FHIR,
          (SERVICE_TEMPLATES.observations ?? '').replace('{{context.patientId}}', PATIENT_ID),
          TOKEN,
        ],
      ]);
    });

    it('fetches every key when prefetch is absent', async () => {
      const dataSource = new MemoryDataSource({ [`Patient/${PATIENT_ID}`]: patientResource() });
      const body = makeCdsRequest({ fhirServer: FHIR });
      delete body.prefetch;
      await request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(body)
        .expect(200, { cards: [] });
      expect(dataSource.calls.map((c) => c.query).sort()).toEqual(
        Object.values(SERVICE_TEMPLATES)
          .map((t) => t.replace('{{context.patientId}}', PATIENT_ID))
          .sort(),
      );
      expect(dataSource.calls.every((c) => c.accessToken === undefined)).toBe(true);
    });

    it('returns 412 with an OperationOutcome when a key is missing and no fhirServer is given', async () => {
      const partial = without(fullPrefetch(), 'conditions');
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: partial }))
        .expect(412);
      expectOutcome(res.body, 'processing', 'prefetch.conditions');
    });

    it('returns 412 when the FHIR server fails for a required key', async () => {
      const dataSource = new MemoryDataSource({
        [`Condition?patient=${PATIENT_ID}`]: new FhirUnavailableError(
          'the FHIR server answered HTTP 500',
        ),
      });
      const partial = without(fullPrefetch(), 'conditions');
      const res = await request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: partial, fhirServer: FHIR }))
        .expect(412);
      expectOutcome(res.body, 'processing', 'prefetch.conditions');
    });

    it('answers 200 when only an optional key (MedicationStatement) fails', async () => {
      const dataSource = new MemoryDataSource({
        [`MedicationStatement?patient=${PATIENT_ID}`]: new FhirUnavailableError(
          'the FHIR server answered HTTP 404',
        ),
      });
      const partial = without(fullPrefetch(), 'medicationStatements');
      await request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: partial, fhirServer: FHIR }))
        .expect(200, { cards: [] });
    });

    it('returns 412 when the Patient cannot be obtained (prefetch holds an OperationOutcome)', async () => {
      const prefetch = {
        ...fullPrefetch(),
        patient: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'forbidden' }],
        },
      };
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ prefetch }))
        .expect(412);
      expectOutcome(res.body, 'processing');
    });

    it('returns 400 when the Patient does not match context.patientId', async () => {
      const prefetch = { ...fullPrefetch(), patient: patientResource('someone-else') };
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ prefetch }))
        .expect(400);
      expectOutcome(res.body, 'invalid', 'context.patientId');
    });

    it('returns 400 when a prefetch value is not a FHIR resource', async () => {
      const prefetch = { ...fullPrefetch(), conditions: [1, 2] };
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ prefetch }))
        .expect(400);
      expectOutcome(res.body, 'invalid', 'prefetch.conditions');
    });
  });

  describe('malformed requests', () => {
    it.each([
      ['hookInstance', { hookInstance: 'not-a-uuid' }, 'hookInstance'],
      ['context', { context: undefined }, 'context'],
      ['patientId', { context: { userId: 'Practitioner/1' } }, 'context.patientId'],
      ['userId', { context: { userId: 'Device/1', patientId: PATIENT_ID } }, 'context.userId'],
      ['fhirServer', { fhirServer: 'ftp://x' }, 'fhirServer'],
      [
        'fhirAuthorization',
        { fhirServer: FHIR, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer' } },
        'fhirAuthorization.expires_in',
      ],
      [
        'fhirAuthorization without fhirServer',
        {
          fhirAuthorization: {
            access_token: TOKEN,
            token_type: 'Bearer',
            expires_in: 1,
            scope: 's',
            subject: 's',
          },
        },
        'fhirServer',
      ],
      ['prefetch', { prefetch: 'x' }, 'prefetch'],
    ])('returns 400 naming the field for a bad %s', async (_name, change, expression) => {
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest(change))
        .expect(400);
      expectOutcome(res.body, 'invalid', expression);
      expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    });

    it('returns 400 for the wrong hook', async () => {
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ hook: 'order-sign' }))
        .expect(400);
      expectOutcome(res.body, 'invalid', 'hook');
    });

    it('returns 400 for a body that is not JSON', async () => {
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .set('Content-Type', 'application/json')
        .send('{"hook": ')
        .expect(400);
      expectOutcome(res.body, 'invalid');
    });

    it('returns 400 for a body that is not a JSON object', async () => {
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .set('Content-Type', 'text/plain')
        .send('hello')
        .expect(400);
      expectOutcome(res.body, 'invalid');
    });

    it('returns 413 for a body over BODY_LIMIT', async () => {
      const big = {
        ...fullPrefetch(),
        conditions: searchset({
          resourceType: 'Condition',
          id: 'c',
          note: [{ text: 'x'.repeat(200_000) }],
        }),
      };
      const res = await request(createApp(makeDeps()))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: big }))
        .expect(413);
      expectOutcome(res.body, 'too-long');
    });
  });

  it('returns 404 with an OperationOutcome for an unknown service', async () => {
    const res = await request(createApp(makeDeps()))
      .post('/cds-services/nope')
      .send(makeCdsRequest())
      .expect(404);
    expectOutcome(res.body, 'not-found');
  });

  it('returns 404 with an OperationOutcome for an unknown path', async () => {
    const res = await request(createApp(makeDeps())).get('/nope').expect(404);
    expectOutcome(res.body, 'not-found');
  });

  it('returns a generic 500 without message, stack or patient data when something unexpected fails', async () => {
    const engine = fakeEngine(() => Promise.reject(new Error(`boom for ${PATIENT_ID}`)));
    const deps = makeDeps({ engine });
    const res = await request(createApp(deps)).post(CALL).send(makeCdsRequest()).expect(500);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'exception', diagnostics: 'internal error' }],
    });
    // the error is logged with its type and stack frames, not its message
    const logged = deps.logs.records.find((r) => r.msg === 'unhandled error');
    expect(logged?.error).toMatchObject({ type: 'Error', stack: expect.stringContaining('at ') });
    expect(deps.logs.lines.join('\n')).not.toContain(PATIENT_ID);
  });
});

describe('CORS', () => {
  it('answers the preflight for Authorization and Content-Type from an allowed origin', async () => {
    const res = await request(createApp(makeDeps()))
      .options(CALL)
      .set('Origin', 'https://sandbox.cds-hooks.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://sandbox.cds-hooks.org');
    expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(res.headers['access-control-allow-headers']).toMatch(/Content-Type/);
    expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('adds no CORS headers for an origin that is not allowed', async () => {
    const res = await request(createApp(makeDeps()))
      .get('/cds-services')
      .set('Origin', 'https://evil.example')
      .expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers * (never with credentials) when any origin is allowed', async () => {
    const deps = makeDeps({ config: { corsOrigins: ['*'], bodyLimit: '100kb' } });
    const res = await request(createApp(deps))
      .get('/cds-services')
      .set('Origin', 'http://localhost:8080')
      .expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

const SERVICE_TEMPLATES: Record<string, string> = Object.fromEntries(
  PREFETCH_KEYS.map((k) => [k, (makeDeps().services[0]?.prefetch ?? {})[k] ?? '']),
);
