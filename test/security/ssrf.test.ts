/** No request leaves for a FHIR server outside the allowlist; redirects and bodies are bounded. */
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { FhirUnavailableError } from '../../src/shared/errors.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { createClientAuthenticator } from '../../src/security/client-auth.js';
import {
  createFhirServerPolicy,
  demoFhirServerBases,
} from '../../src/security/fhir-server-policy.js';
import { parseTrustedIssuers } from '../../src/security/trusted-issuers.js';
import { isUnderBase } from '../../src/security/urls.js';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from '../support/fake-fhir-server.js';
import { makeCdsRequest, makeDeps, patientResource, PATIENT_ID } from '../support/http-deps.js';
import { makeKey, signToken } from '../support/jwt.js';

const CALL = '/cds-services/trial-matcher';

/** Answers every query like a small FHIR server would. */
function answerLikeFhir(fake: FakeFhirServer): void {
  fake.handler = (req, res) => {
    if ((req.url ?? '').includes('/Patient/')) sendJson(res, 200, patientResource());
    else sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
  };
}

describe('the SSRF guard', () => {
  let allowed: FakeFhirServer;
  let forbidden: FakeFhirServer;
  const dataSource = new FhirKitDataSource({ timeoutMs: 1000, maxPages: 3 });

  beforeAll(async () => {
    allowed = await startFakeFhirServer(() => undefined);
    forbidden = await startFakeFhirServer(() => undefined);
    answerLikeFhir(allowed);
    answerLikeFhir(forbidden);
  });
  afterAll(async () => {
    await Promise.all([allowed.close(), forbidden.close(), dataSource.close()]);
  });
  beforeEach(() => {
    allowed.requests.length = 0;
    forbidden.requests.length = 0;
  });

  describe('with authentication off (FHIR_SERVER_ALLOWLIST)', () => {
    const app = () =>
      createApp(
        makeDeps({
          dataSource,
          fhirServerPolicy: createFhirServerPolicy({
            authenticated: false,
            allowlist: [allowed.base],
          }),
        }),
      );

    it('sends no request to a fhirServer outside the allowlist and answers 412', async () => {
      const res = await request(app())
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: forbidden.base }))
        .expect(412);
      expect(res.body.issue[0].expression).toEqual(['fhirServer']);
      expect(forbidden.requests).toEqual([]);
    });

    it.each([
      ['another port', (b: string) => b.replace(/:\d+\//, ':1/')],
      ['a sibling path', (b: string) => `${b}x`],
      ['a parent path', (b: string) => b.replace(/\/fhir$/, '')],
      ['credentials in the URL', (b: string) => b.replace('http://', 'http://user:pw@')],
      ['an encoded dot segment', (b: string) => `${b}/%2e%2e/admin`],
    ])('refuses %s', async (_name, variant) => {
      await request(app())
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: variant(allowed.base) }))
        .expect(412);
      expect(allowed.requests).toEqual([]);
    });

    it('reads from an allowed fhirServer (and paths below it)', async () => {
      await request(app())
        .post(CALL)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: allowed.base }))
        .expect(200);
      expect(allowed.requests.length).toBeGreaterThan(0);
    });

    it('needs no fhirServer check when the prefetch is complete', async () => {
      await request(app())
        .post(CALL)
        .send(makeCdsRequest({ fhirServer: forbidden.base }))
        .expect(200);
      expect(forbidden.requests).toEqual([]);
    });
  });

  describe('with authentication on (fhirServers of the issuer)', () => {
    it('reads only from the servers of the calling issuer', async () => {
      const key = await makeKey('ES384');
      const issuers = parseTrustedIssuers([
        { iss: 'https://a.example', jwks: { keys: [key.publicJwk] }, fhirServers: [allowed.base] },
      ]);
      const app = createApp(
        makeDeps({
          dataSource,
          authenticator: createClientAuthenticator({
            issuers,
            clockToleranceSec: 30,
            replayCacheSize: 100,
            jwks: { timeoutMs: 1000, maxResponseBytes: 10_000 },
          }),
          fhirServerPolicy: createFhirServerPolicy({ authenticated: true, allowlist: [] }),
          config: { corsOrigins: [], bodyLimit: '100kb', publicBaseUrl: 'https://cds.example' },
        }),
      );
      const token = () =>
        signToken(key, { iss: 'https://a.example', aud: `https://cds.example${CALL}` });
      await request(app)
        .post(CALL)
        .set('Authorization', `Bearer ${await token()}`)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: forbidden.base }))
        .expect(412);
      expect(forbidden.requests).toEqual([]);
      await request(app)
        .post(CALL)
        .set('Authorization', `Bearer ${await token()}`)
        .send(makeCdsRequest({ prefetch: {}, fhirServer: allowed.base }))
        .expect(200);
      expect(allowed.requests.length).toBeGreaterThan(0);
    });
  });

  it('allows only the embedded demo server by default', () => {
    const policy = createFhirServerPolicy({
      authenticated: false,
      allowlist: demoFhirServerBases(3000, '/demo/fhir'),
    });
    expect(policy.allows('http://localhost:3000/demo/fhir')).toBe(true);
    expect(policy.allows('http://127.0.0.1:3000/demo/fhir/')).toBe(true);
    expect(policy.allows('http://127.0.0.1:3001/demo/fhir')).toBe(false);
    expect(policy.allows('http://169.254.169.254/latest/meta-data')).toBe(false);
    expect(policy.allows('http://10.0.0.5/fhir')).toBe(false);
    expect(isUnderBase('https://x/fhir/r4', 'https://x/fhir')).toBe(true);
    expect(isUnderBase('https://x/fhir?x=1', 'https://x/fhir')).toBe(false);
  });
});

describe('FhirKitDataSource limits', () => {
  let ehr: FakeFhirServer;
  let other: FakeFhirServer;
  beforeAll(async () => {
    ehr = await startFakeFhirServer(() => undefined);
    other = await startFakeFhirServer((_req, res) => {
      sendJson(res, 200, patientResource());
    });
  });
  afterAll(() => Promise.all([ehr.close(), other.close()]));
  beforeEach(() => {
    ehr.requests.length = 0;
    other.requests.length = 0;
  });

  it('never follows a redirect to another origin', async () => {
    const source = new FhirKitDataSource({ timeoutMs: 1000, maxPages: 3 });
    ehr.handler = (_req, res) => {
      res.writeHead(302, { location: `${other.base}/Patient/${PATIENT_ID}` }).end();
    };
    await expect(
      source.fetch({ fhirServer: ehr.base, query: `Patient/${PATIENT_ID}`, accessToken: 'tok' }),
    ).rejects.toThrow('redirected to another origin');
    expect(other.requests).toEqual([]);
    await source.close();
  });

  it('follows a redirect on the same origin, a few times at most', async () => {
    const source = new FhirKitDataSource({ timeoutMs: 1000, maxPages: 3 });
    ehr.handler = (req, res, base) => {
      if (req.url === `/fhir/Patient/${PATIENT_ID}`)
        res.writeHead(301, { location: `${base}/Patient/moved` }).end();
      else sendJson(res, 200, patientResource());
    };
    await expect(
      source.fetch({ fhirServer: ehr.base, query: `Patient/${PATIENT_ID}` }),
    ).resolves.toMatchObject({ resourceType: 'Patient' });
    ehr.handler = (_req, res, base) => {
      res.writeHead(307, { location: `${base}/loop` }).end();
    };
    await expect(
      source.fetch({ fhirServer: ehr.base, query: `Patient/${PATIENT_ID}` }),
    ).rejects.toThrow('too many');
    expect(ehr.requests.length).toBe(2 + 4);
    await source.close();
  });

  it('refuses an answer larger than the body limit', async () => {
    const source = new FhirKitDataSource({
      timeoutMs: 2000,
      maxPages: 3,
      maxResponseBytes: 50_000,
    });
    ehr.handler = (_req, res) => {
      sendJson(res, 200, { ...patientResource(), text: { div: 'x'.repeat(200_000) } });
    };
    const error = await source
      .fetch({ fhirServer: ehr.base, query: `Patient/${PATIENT_ID}` })
      .catch((e: unknown) => e);
    // The reason ("more data than FHIR_MAX_BODY allows") is in undici's error cause, which Node
    // drops under jest's module realm; outside jest the message names FHIR_MAX_BODY.
    expect(error).toBeInstanceOf(FhirUnavailableError);
    await source.close();
  });

  it('cuts a search at the resource limit across pages, and says so in the searchset', async () => {
    const source = new FhirKitDataSource({ timeoutMs: 1000, maxPages: 10, maxResources: 5 });
    ehr.handler = (_req, res, base) => {
      sendJson(res, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [1, 2, 3].map((n) => ({ resource: { resourceType: 'Observation', id: `o${n}` } })),
        link: [{ relation: 'next', url: `${base}/Observation?page=2` }],
      });
    };
    const result = await source.fetch({ fhirServer: ehr.base, query: 'Observation?patient=x' });
    const entries = result.entry as { resource: { resourceType: string; issue?: unknown } }[];
    expect(entries.filter((e) => e.resource.resourceType === 'Observation')).toHaveLength(5);
    expect(JSON.stringify(entries.at(-1))).toContain('FHIR_MAX_RESOURCES');
    expect(ehr.requests.length).toBeLessThanOrEqual(2);
    await source.close();
  });

  it('refuses an answer nested too deeply', async () => {
    const source = new FhirKitDataSource({ timeoutMs: 1000, maxPages: 3 });
    let nested: unknown = 'x';
    for (let i = 0; i < 200; i++) nested = { a: nested };
    ehr.handler = (_req, res) => {
      sendJson(res, 200, { ...patientResource(), extension: [nested] });
    };
    await expect(
      source.fetch({ fhirServer: ehr.base, query: `Patient/${PATIENT_ID}` }),
    ).rejects.toThrow('nested too deeply');
    await source.close();
  });
});
