import request from 'supertest';
import { createApp } from '../../src/app.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import {
  PATIENT_ID,
  TOKEN,
  makeCdsRequest,
  makeDeps,
  patientResource,
} from '../support/http-deps.js';
import { OperationOutcomeSchema, SpecResponseSchema } from '../cds-hooks/spec-schemas.js';

const CALL = '/cds-services/trial-matcher';
const auth = {
  access_token: TOKEN,
  token_type: 'Bearer',
  expires_in: 300,
  scope: 'patient/*.read',
  subject: 'cds-service',
};

/** An EHR FHIR server with the patient and one paged Observation search. */
function ehr(
  req: Parameters<FakeFhirServer['handler']>[0],
  res: Parameters<FakeFhirServer['handler']>[1],
  base: string,
): void {
  const url = new URL(req.url ?? '', 'http://x');
  if (url.pathname === `/fhir/Patient/${PATIENT_ID}`) {
    sendJson(res, 200, patientResource());
    return;
  }
  const page = Number(url.searchParams.get('page') ?? '1');
  const type = url.pathname.split('/')[2] ?? '';
  sendJson(res, 200, {
    resourceType: 'Bundle',
    type: 'searchset',
    entry:
      type === 'Observation'
        ? [
            {
              resource: {
                resourceType: 'Observation',
                id: `${url.searchParams.get('category') ?? ''}-${page}`,
                status: 'final',
                code: { text: 'x' },
              },
            },
          ]
        : [],
    link:
      type === 'Observation' && page < 3
        ? [
            {
              relation: 'next',
              url: `${base}/Observation?${url.searchParams.toString().replace(/&?page=\d+/, '')}&page=${page + 1}`,
            },
          ]
        : [],
  });
}

describe('POST /cds-services/{id} with data from the FHIR server', () => {
  let fake: FakeFhirServer;
  beforeAll(async () => {
    fake = await startFakeFhirServer(ehr);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.handler = ehr;
  });

  const app = (maxPages = 10) =>
    createApp(makeDeps({ dataSource: new FhirKitDataSource({ timeoutMs: 400, maxPages }) }));
  const call = (prefetch?: Record<string, unknown>) => {
    const body = makeCdsRequest({ fhirServer: fake.base, fhirAuthorization: auth });
    if (prefetch === undefined) delete body.prefetch;
    else body.prefetch = prefetch;
    return body;
  };

  it('fetches every key with the bearer token and follows next links', async () => {
    let records = 0;
    const deps = makeDeps({
      dataSource: new FhirKitDataSource({ timeoutMs: 400, maxPages: 10 }),
      engine: {
        trials: [],
        screen: (patient, asOf) => {
          records = patient.bundle.entry?.length ?? 0;
          return Promise.resolve({ patientId: patient.patientId, asOf, trials: [] });
        },
      },
    });
    const res = await request(createApp(deps)).post(CALL).send(call()).expect(200);
    SpecResponseSchema.parse(res.body);
    expect(fake.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // 1 Patient read + 7 one-page searches + 1 Observation search (by code) of 3 pages
    expect(fake.requests).toHaveLength(1 + 7 + 3);
    expect(records).toBe(1 + 3);
  });

  it('fetches only what the prefetch lacks', async () => {
    await request(app())
      .post(CALL)
      .send(
        call({
          patient: patientResource(),
          conditions: null,
          observations: null,
          medicationStatements: null,
          medicationAdministrations: null,
          medicationDispenses: null,
          allergyIntolerances: null,
          procedures: null,
        }),
      )
      .expect(200, { cards: [] });
    expect(fake.requests.map((r) => r.url)).toEqual([
      `/fhir/MedicationRequest?patient=${PATIENT_ID}&_include=MedicationRequest:medication`,
    ]);
  });

  it.each([
    [
      'a 500',
      (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
        sendJson(res, 500, { resourceType: 'OperationOutcome', issue: [] });
      },
    ],
    ['a timeout', () => undefined],
    [
      'invalid JSON',
      (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
        res.writeHead(200, { 'content-type': 'application/fhir+json' });
        res.end('<html>');
      },
    ],
    [
      'a wrong resource type',
      (_req: unknown, res: Parameters<typeof sendJson>[0]) => {
        sendJson(res, 200, { resourceType: 'Binary', id: 'x' });
      },
    ],
  ])(
    'returns 412 with an OperationOutcome when the FHIR server gives %s',
    async (_name, handler) => {
      fake.handler = handler;
      const res = await request(app()).post(CALL).send(call()).expect(412);
      const outcome = OperationOutcomeSchema.parse(res.body);
      expect(outcome.issue[0]?.code).toBe('processing');
      expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    },
  );
});
