/**
 * Issue 15 item 13 through `screen --fhir-server`: a Group member `Patient/..` and a next link to
 * another path of the same host must not make the CLI read outside the base it was given.
 */
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { patient } from '../support/fhir-builders.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import { inProcessScreenDeps, screenCli } from '../support/screen-cli.js';

const deps = inProcessScreenDeps(loadEligibilityEngine());
let ehr: FakeFhirServer;
beforeAll(async () => {
  ehr = await startFakeFhirServer(() => undefined);
});
afterAll(() => ehr.close());
beforeEach(() => {
  ehr.requests.length = 0;
});

const outside = (): string[] =>
  ehr.requests.map((r) => r.url).filter((url) => !url.startsWith('/fhir/'));

it('never reads Patient/.. for a Group member', async () => {
  ehr.handler = (req, res) => {
    if ((req.url ?? '').startsWith('/fhir/Group/'))
      sendJson(res, 200, {
        resourceType: 'Group',
        type: 'person',
        actual: true,
        member: [{ entity: { reference: 'Patient/..' } }],
      });
    else sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
  };
  const run = await screenCli(
    ['--fhir-server', ehr.base, '--group', 'g1', '--format', 'json'],
    deps,
  );
  expect(run.code).toBe(2);
  expect(run.err).toContain('not a Patient reference');
  expect(outside()).toEqual([]);
});

it('fails the search whose next link leaves the base path, without following it', async () => {
  ehr.handler = (req, res, base) => {
    const origin = new URL(base).origin;
    if ((req.url ?? '').startsWith('/fhir/Patient?'))
      sendJson(res, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [{ resource: patient({ id: 'p1' }) }],
        link: [{ relation: 'next', url: `${origin}/admin/Patient?page=2` }],
      });
    else if ((req.url ?? '').startsWith('/fhir/'))
      sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
    else sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
  };
  const run = await screenCli(
    ['--fhir-server', ehr.base, '--patients', 'gender=female', '--format', 'json'],
    deps,
  );
  expect(run.code).toBe(2);
  // One reader for the service and the CLI (issue 16): the service's wording.
  expect(run.err).toContain('the FHIR server answered a next link outside fhirServer');
  expect(outside()).toEqual([]);
});
