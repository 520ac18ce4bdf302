/**
 * Issue 15 items 10 and 13 through POST /cds-services/trial-matcher: untrusted strings echoed at
 * full length into error bodies and logs, and requests that leave the fhirServer base path
 * (a dot-only patient id, a next link or a redirect to another path of the same host).
 */
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import {
  makeCdsRequest,
  makeDeps,
  MemoryDataSource,
  patientResource,
  PATIENT_ID,
} from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';

interface Outcome {
  issue: { diagnostics: string }[];
}

function expectShortLogs(lines: readonly string[]): void {
  for (const line of lines) expect(line.length).toBeLessThan(1500);
}

describe('untrusted strings in errors and logs (issue 15 item 10)', () => {
  it('echoes a long hook bounded, in the 400 and in the log', async () => {
    const deps = makeDeps({ config: { corsOrigins: [], bodyLimit: '1mb' } });
    const hook = 'h'.repeat(200_000);
    const res = await request(createApp(deps)).post(CALL).send(makeCdsRequest({ hook }));
    expect(res.status).toBe(400);
    const diagnostics = (res.body as Outcome).issue[0]?.diagnostics ?? '';
    expect(diagnostics).toMatch(
      /^this service answers the patient-view hook, not "h+…" \(200000 characters\)$/,
    );
    expect(diagnostics.length).toBeLessThan(200);
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
    expectShortLogs(deps.logs.lines);
  });

  describe('from a FHIR server', () => {
    let ehr: FakeFhirServer;
    const dataSource = new FhirKitDataSource({ timeoutMs: 2000, maxPages: 3 });
    beforeAll(async () => {
      ehr = await startFakeFhirServer(() => undefined);
    });
    afterAll(() => Promise.all([ehr.close(), dataSource.close()]));

    it('echoes a long resourceType bounded, in the 412 and in the log', async () => {
      ehr.handler = (_req, res) => {
        sendJson(res, 200, { resourceType: 'X'.repeat(100_000) });
      };
      const deps = makeDeps({ dataSource });
      const res = await request(createApp(deps))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: ehr.base }));
      expect(res.status).toBe(412);
      const diagnostics = (res.body as Outcome).issue[0]?.diagnostics ?? '';
      expect(diagnostics).toContain('(100000 characters)');
      expect(JSON.stringify(res.body).length).toBeLessThan(1000);
      expectShortLogs(deps.logs.lines);
    });
  });
});

describe('requests stay under the fhirServer base (issue 15 item 13)', () => {
  it.each(['..', '.', '...'])(
    'refuses context.patientId %j with 400 and reads nothing',
    async (id) => {
      const dataSource = new MemoryDataSource();
      const deps = makeDeps({ dataSource });
      const res = await request(createApp(deps))
        .post(CALL)
        .send(
          makeCdsRequest({
            context: { userId: 'Practitioner/example', patientId: id },
            prefetch: {},
            fhirServer: 'https://ehr.example/fhir',
          }),
        );
      expect(res.status).toBe(400);
      expect((res.body as { issue: { expression: string[] }[] }).issue[0]?.expression).toContain(
        'context.patientId',
      );
      expect(dataSource.calls).toEqual([]);
    },
  );

  it('refuses a dot-only userId with 400', async () => {
    const res = await request(createApp(makeDeps()))
      .post(CALL)
      .send(makeCdsRequest({ context: { userId: 'Practitioner/..', patientId: PATIENT_ID } }));
    expect(res.status).toBe(400);
  });

  it('still accepts ids with dots that are not only dots', async () => {
    const res = await request(createApp(makeDeps()))
      .post(CALL)
      .send(
        makeCdsRequest({
          context: { userId: 'Practitioner/a.b', patientId: 'p.1' },
          prefetch: {
            ...Object.fromEntries(
              Object.entries(makeCdsRequest().prefetch as Record<string, unknown>),
            ),
            patient: patientResource('p.1'),
          },
        }),
      );
    expect(res.status).toBe(200);
  });

  describe('next links and redirects', () => {
    let ehr: FakeFhirServer;
    const dataSource = new FhirKitDataSource({ timeoutMs: 2000, maxPages: 5 });
    beforeAll(async () => {
      ehr = await startFakeFhirServer(() => undefined);
    });
    afterAll(() => Promise.all([ehr.close(), dataSource.close()]));
    beforeEach(() => {
      ehr.requests.length = 0;
    });

    const origin = (): string => new URL(ehr.base).origin;
    const call = () =>
      request(createApp(makeDeps({ dataSource })))
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: ehr.base }));

    it('fails a search whose next link leaves the base path (412), without following it', async () => {
      ehr.handler = (req, res) => {
        const url = req.url ?? '';
        if (url.startsWith('/fhir/Patient/')) sendJson(res, 200, patientResource());
        else
          sendJson(res, 200, {
            resourceType: 'Bundle',
            type: 'searchset',
            entry: [],
            link: [{ relation: 'next', url: `${origin()}/admin/Condition?page=2` }],
          });
      };
      const res = await call();
      expect(res.status).toBe(412);
      expect((res.body as Outcome).issue[0]?.diagnostics).toContain('next link outside fhirServer');
      expect(ehr.requests.filter((r) => !r.url.startsWith('/fhir/'))).toEqual([]);
    });

    it('fails a read redirected outside the base path (412), without following it', async () => {
      ehr.handler = (req, res) => {
        const url = req.url ?? '';
        if (url.startsWith('/fhir/Patient/'))
          res.writeHead(302, { location: `${origin()}/internal/Patient/${PATIENT_ID}` }).end();
        else sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
      };
      const res = await call();
      expect(res.status).toBe(412);
      expect((res.body as Outcome).issue[0]?.diagnostics).toContain(
        'redirected outside fhirServer',
      );
      expect(ehr.requests.filter((r) => !r.url.startsWith('/fhir/'))).toEqual([]);
    });
  });
});
