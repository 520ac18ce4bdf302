/**
 * `screen --fhir-server URL [--group ID | --patients QUERY]` against a loopback FHIR server (port 0):
 * Patient search with paging, Group members, per-patient searches with paging, a 500 on one
 * patient's search and on a page of the Patient search, the bearer token from FHIR_TOKEN.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ScreenReport } from '../../src/cli/screen.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { AS_OF, observation, patient, sle } from '../support/fhir-builders.js';
import { inProcessScreenDeps, screenCli, type ScreenRun } from '../support/screen-cli.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';

const engine = loadEligibilityEngine();
const TOKEN = 'tok-secret-123';
const deps = inProcessScreenDeps(engine, { FHIR_TOKEN: TOKEN });

const searchset = (resources: unknown[], next?: string) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
  ...(next !== undefined ? { link: [{ relation: 'next', url: next }] } : {}),
});

const patients = {
  p1: patient({ id: 'p1', age: 40 }),
  p2: patient({ id: 'p2', age: 35 }),
  p3: patient({ id: 'p3', age: 70, gender: 'male' }),
};

function handler(req: IncomingMessage, res: ServerResponse, base: string): void {
  const url = new URL(req.url ?? '', 'http://x');
  const path = url.pathname.replace(/^\/fhir\//, '');
  const q = url.searchParams;
  const page = Number(q.get('page') ?? '1');
  if (path === 'Patient' && q.get('gender') === 'female') {
    if (page === 1)
      sendJson(
        res,
        200,
        searchset([patients.p1, patients.p2], `${base}/Patient?gender=female&page=2`),
      );
    else sendJson(res, 200, searchset([patients.p3]));
  } else if (path === 'Patient' && q.get('name') === 'broken') {
    if (page === 1)
      sendJson(res, 200, searchset([patients.p1], `${base}/Patient?name=broken&page=2`));
    else sendJson(res, 500, { resourceType: 'OperationOutcome', issue: [] });
  } else if (path === 'Group/g1') {
    sendJson(res, 200, {
      resourceType: 'Group',
      id: 'g1',
      type: 'person',
      actual: true,
      member: [
        { entity: { reference: 'Patient/p3' } },
        { entity: { reference: 'Patient/p1' } },
        { entity: { reference: 'Device/d1' } },
      ],
    });
  } else if (path === 'Group/missing') {
    sendJson(res, 404, { resourceType: 'OperationOutcome', issue: [] });
  } else if (/^Patient\/p\d$/.test(path)) {
    sendJson(res, 200, patients[path.slice('Patient/'.length) as keyof typeof patients]);
  } else if (path === 'Condition' && q.get('patient') === 'p1') {
    // Two pages: the SLE diagnosis is on the second.
    if (page === 1) sendJson(res, 200, searchset([], `${base}/Condition?patient=p1&page=2`));
    else
      sendJson(
        res,
        200,
        searchset([{ ...sle({ id: 'c-p1' }), subject: { reference: 'Patient/p1' } }]),
      );
  } else if (path === 'Observation' && q.get('patient') === 'p1') {
    sendJson(
      res,
      200,
      searchset([
        {
          ...observation('718-7', { quantity: 12, unit: 'g/dL' }, { id: 'o-p1' }),
          subject: { reference: 'Patient/p1' },
        },
      ]),
    );
  } else if (path === 'Observation' && q.get('patient') === 'p2') {
    sendJson(res, 500, { resourceType: 'OperationOutcome', issue: [] });
  } else {
    sendJson(res, 200, searchset([]));
  }
}

describe('screen CLI: --fhir-server', () => {
  let fake: FakeFhirServer;
  beforeAll(async () => {
    fake = await startFakeFhirServer(handler);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  const screen = (argv: string[]): Promise<ScreenRun> => screenCli(argv, deps);

  it('screens a paged Patient search, following every page of each search, with the bearer token', async () => {
    const { code, out, err } = await screen([
      '--as-of',
      AS_OF,
      '--fhir-server',
      fake.base,
      '--patients',
      'gender=female',
    ]);
    const report = JSON.parse(out) as ScreenReport;
    expect(report.patients.map((p) => [p.source, p.patientId])).toEqual([
      [`${fake.base}/Patient/p1`, 'p1'],
      [`${fake.base}/Patient/p3`, 'p3'],
    ]);
    const p1 = report.patients[0]?.trials.find((t) => t.id === 'NCT07339332');
    expect(p1?.criteria.find((c) => c.id === 'sle-6-months')).toMatchObject({
      result: 'pass',
      evidence: ['Condition/c-p1'],
    });
    expect(p1?.criteria.find((c) => c.id === 'hemoglobin')).toMatchObject({
      result: 'pass',
      evidence: ['Observation/o-p1'],
    });
    // The 500 on p2's Observation search fails p2 alone.
    expect(code).toBe(2);
    expect(err).toBe(`screen: ${fake.base}/Patient/p2: the FHIR server answered HTTP 500\n`);
    expect(fake.requests.map((r) => r.url)).toEqual(
      expect.arrayContaining([
        '/fhir/Patient?gender=female',
        '/fhir/Patient?gender=female&page=2',
        '/fhir/Condition?patient=p1',
        '/fhir/Condition?patient=p1&page=2',
        '/fhir/MedicationRequest?patient=p1&_include=MedicationRequest:medication',
        '/fhir/MedicationStatement?patient=p3&_include=MedicationStatement:medication',
      ]),
    );
    expect(fake.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(out + err).not.toContain(TOKEN);
  });

  it('screens the members of a Group and reports a member that is not a Patient', async () => {
    const { code, out, err } = await screen([
      '--as-of',
      AS_OF,
      '--format',
      'csv',
      '--fhir-server',
      fake.base,
      '--group',
      'g1',
    ]);
    expect(code).toBe(2);
    const rows = out
      .trim()
      .split('\r\n')
      .slice(1)
      .map((l) => l.split(','));
    expect([...new Set(rows.map((r) => r[1]))]).toEqual(['p3', 'p1', '']);
    expect(rows.at(-1)?.[0]).toBe(`${fake.base}/Group/g1#member[2]`);
    expect(err).toContain('the member is not a Patient reference');
    expect(fake.requests.map((r) => r.url)).toContain('/fhir/Patient/p3');
  });

  it('keeps what was read when a page of the Patient search fails mid-way', async () => {
    const { code, out, err } = await screen([
      '--as-of',
      AS_OF,
      '--fhir-server',
      fake.base,
      '--patients',
      'name=broken',
    ]);
    expect(code).toBe(2);
    expect((JSON.parse(out) as ScreenReport).patients.map((p) => p.patientId)).toEqual(['p1']);
    expect(err).toContain(
      `screen: ${fake.base}/Patient?name=broken (page 2): the FHIR server answered HTTP 500; the rest of the Patient search was not read`,
    );
  });

  it('reports a Group the server does not have', async () => {
    const { code, out, err } = await screen([
      '--as-of',
      AS_OF,
      '--fhir-server',
      fake.base,
      '--group',
      'missing',
    ]);
    expect(code).toBe(2);
    expect((JSON.parse(out) as ScreenReport).patients).toEqual([]);
    expect(err).toContain(`${fake.base}/Group/missing: the FHIR server answered HTTP 404`);
  });
});
