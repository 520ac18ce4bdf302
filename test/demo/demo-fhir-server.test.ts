import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { DEFAULT_DEMO_DIR } from '../../src/config.js';
import {
  createDemoFhirServer,
  daysSince,
  type DemoFhirServer,
} from '../../src/demo/demo-fhir-server.js';
import { requestContext } from '../../src/http/request-context.js';
import { LogCapture } from '../support/http-deps.js';

const TODAY = '2027-01-01';

describe('createDemoFhirServer', () => {
  let demo: DemoFhirServer;
  let app: express.Express;
  beforeAll(async () => {
    demo = await createDemoFhirServer({
      dataDirs: [
        { dir: join(DEFAULT_DEMO_DIR, 'patients'), shiftDates: true },
        { dir: join(DEFAULT_DEMO_DIR, 'synthea'), shiftDates: false },
      ],
      mountPath: '/demo/fhir',
      today: TODAY,
    });
    app = express();
    app.use(requestContext(new LogCapture().logger));
    app.use('/demo/fhir', demo.handler);
  });

  it('lists in its CapabilityStatement every resource type its data holds (issue 16 item 3)', async () => {
    const res = await request(app).get('/demo/fhir/metadata');
    expect(res.status).toBe(200);
    const types = (res.body as { rest: { resource: { type: string }[] }[] }).rest[0]?.resource.map(
      (r) => r.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(['Patient', 'Condition', 'Observation', 'Procedure', 'Immunization']),
    );
    expect(types).toEqual([...(types ?? [])].sort());
  });

  it('loads the hand-built and Synthea patients with their own ids', () => {
    expect(demo.patients.map((p) => p.id)).toEqual(
      expect.arrayContaining([
        'sle-eligible',
        'ssc-ild',
        'sle-missing-labs',
        'da2c7b0a-791a-4b8f-9a30-dc3d8cf1ec75',
      ]),
    );
  });

  it('reads a resource and answers 404 with an OperationOutcome for an unknown one', async () => {
    const res = await request(app).get('/demo/fhir/Patient/sle-eligible').expect(200);
    expect(res.body).toMatchObject({ resourceType: 'Patient', id: 'sle-eligible' });
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const missing = await request(app).get('/demo/fhir/Patient/nobody').expect(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
  });

  it('moves the dates of hand-built records with today', async () => {
    const res = await request(app)
      .get('/demo/fhir/Observation?patient=sle-eligible&category=survey')
      .expect(200);
    // written for 2026-11-22 as "5 days ago"
    expect(res.body.entry[0].resource.effectiveDateTime).toBe('2026-12-27T09:30:00Z');
    expect(daysSince('2026-11-22T00:00:00Z', TODAY)).toBe(40);
  });

  it('searches by bare patient id, by GET and by POST _search, with the same result', async () => {
    const get = await request(app).get('/demo/fhir/Condition?patient=sle-eligible').expect(200);
    const post = await request(app)
      .post('/demo/fhir/Condition/_search')
      .type('form')
      .send({ patient: 'Patient/sle-eligible' })
      .expect(200);
    expect(get.body.total).toBe(2);
    const ids = (body: { entry: { resource: { id: string } }[] }) =>
      body.entry.map((e) => e.resource.id);
    expect(ids(post.body as never)).toEqual(ids(get.body as never));
  });

  it('pages with self and next links', async () => {
    const first = await request(app)
      .get('/demo/fhir/Observation?patient=da2c7b0a-791a-4b8f-9a30-dc3d8cf1ec75&_count=50')
      .expect(200);
    expect(first.body.entry).toHaveLength(50);
    const next = (first.body.link as { relation: string; url: string }[]).find(
      (l) => l.relation === 'next',
    );
    expect(next?.url).toMatch(/_offset=50/);
    const path = new URL(next!.url).pathname + new URL(next!.url).search;
    const second = await request(app).get(path).expect(200);
    expect(second.body.entry[0].resource.id).not.toBe(first.body.entry[0].resource.id);
    const total = first.body.total as number;
    expect(total).toBeGreaterThan(50);
  });

  it('is read-only', async () => {
    const res = await request(app)
      .post('/demo/fhir/Patient')
      .send({ resourceType: 'Patient' })
      .expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  // Issue 15 item 2: searches that made medplum evaluate FHIRPath over every record blocked the
  // event loop (and every hook call) for seconds; the rest are answered over one patient's record.
  describe('bounded searches (issue 15)', () => {
    const outcomeOf = (res: request.Response) =>
      (res.body as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics;

    it.each([
      ['_sort', '/demo/fhir/Observation?patient=sle-eligible&_sort=-date', /_sort/],
      ['a search of every record', '/demo/fhir/Observation?_count=100', /one patient at a time/],
      ['two patients', '/demo/fhir/Observation?patient=sle-eligible,ssc-ild', /one patient/],
      [
        'a chained parameter',
        '/demo/fhir/Observation?patient=sle-eligible&subject.name=x',
        /subject\.name/,
      ],
      ['_has', '/demo/fhir/Observation?patient=sle-eligible&_has:Encounter:x:y=z', /_has/],
      ['_revinclude', '/demo/fhir/Patient?_revinclude=Observation:subject', /_revinclude/],
      [
        'another _include',
        '/demo/fhir/Observation?patient=sle-eligible&_include=Observation:subject',
        /_include/,
      ],
      ['_sort on patients', '/demo/fhir/Patient?_sort=-birthdate', /_sort/],
      ['a malformed date', '/demo/fhir/Observation?patient=sle-eligible&date=ge-yesterday', /date/],
    ])('refuses %s with 400 and an OperationOutcome saying why', async (_case, url, why) => {
      const res = await request(app).get(url).expect(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(outcomeOf(res)).toMatch(why);
    });

    it('cuts _count to 100, with a next link to the rest', async () => {
      const res = await request(app)
        .get('/demo/fhir/Observation?patient=79dd039a-3e9a-4e1b-afb1-5cad0bea9eb9&_count=500')
        .expect(200);
      expect(res.body.entry).toHaveLength(100);
      expect(res.body.total).toBeGreaterThan(200);
      const next = (res.body.link as { relation: string; url: string }[]).find(
        (l) => l.relation === 'next',
      );
      expect(next?.url).toMatch(/_count=100&/);
      expect(next?.url).toMatch(/_offset=100$/);
    });

    it('filters one record by code, category and date as a FHIR server does', async () => {
      const ids = async (query: string) =>
        (
          (
            await request(app)
              .get(`/demo/fhir/Observation?patient=sle-eligible&${query}`)
              .expect(200)
          ).body as { entry?: { resource: { id: string } }[] }
        ).entry?.map((e) => e.resource.id) ?? [];
      expect(await ids('code=http://loinc.org|2160-0')).toEqual(['sle-eligible-observation-13']);
      expect(await ids('code=2160-0,718-7')).toEqual([
        'sle-eligible-observation-5',
        'sle-eligible-observation-13',
      ]);
      expect(await ids('code=http://snomed.info/sct|2160-0')).toEqual([]);
      const labs = await ids('category=laboratory');
      expect(labs).toContain('sle-eligible-observation-13');
      expect(await ids('category=survey')).not.toContain('sle-eligible-observation-13');
      // written for 2026-11-22 as 2026-11-18, moved 40 days: 2026-12-28
      expect(await ids('code=2160-0&date=2026-12-28')).toHaveLength(1);
      expect(await ids('code=2160-0&date=ge2026-12-28&date=lt2026-12-29')).toHaveLength(1);
      expect(await ids('code=2160-0&date=gt2026-12-28')).toEqual([]);
      expect(await ids('code=2160-0&date=le2026-12')).toHaveLength(1);
      expect(await ids('code=2160-0&date=lt2026-12-28')).toEqual([]);
    });

    it('accepts the _include of medications that hook calls send', async () => {
      const res = await request(app)
        .get(
          '/demo/fhir/MedicationRequest?patient=sle-eligible&_include=MedicationRequest:medication',
        )
        .expect(200);
      expect(res.body.total).toBeGreaterThan(0);
    });
  });
});
