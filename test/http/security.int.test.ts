/** Issue 5 over real HTTP: a trusted client's full call, and what its logs hold. */
import { randomUUID } from 'node:crypto';
import {
  createClientAuthenticator,
  type ClientAuthenticator,
} from '../../src/security/client-auth.js';
import { createFhirServerPolicy } from '../../src/security/fhir-server-policy.js';
import { parseTrustedIssuers } from '../../src/security/trusted-issuers.js';
import { SpecResponseSchema } from '../cds-hooks/spec-schemas.js';
import { makeKey, signToken, type TestKey } from '../support/jwt.js';
import { startService, type RunningService } from '../support/running-service.js';

const ISS = 'https://ehr.example.org';
const ACCESS_TOKEN = 'fhir-access-token-5e1f0c';

describe('a trusted client calling the service over HTTP', () => {
  let service: RunningService;
  let key: TestKey;
  let authenticator: ClientAuthenticator;
  beforeAll(async () => {
    key = await makeKey('ES384');
    service = await startService(({ fhirBase }) => {
      authenticator = createClientAuthenticator({
        issuers: parseTrustedIssuers([
          { iss: ISS, jwks: { keys: [key.publicJwk] }, fhirServers: [fhirBase] },
        ]),
        clockToleranceSec: 30,
        replayCacheSize: 1000,
        jwks: { timeoutMs: 1000, maxResponseBytes: 100_000 },
      });
      return {
        authenticator,
        fhirServerPolicy: createFhirServerPolicy({ authenticated: true, allowlist: [] }),
        requestBudgetMs: 20_000,
      };
    });
  });
  afterAll(async () => {
    await service.close();
    await authenticator.close();
  });

  it('answers real cards, and logs no JWT, access token, patient id or patient name', async () => {
    service.logs.lines.length = 0;
    const url = `${service.base}/cds-services/trial-matcher`;
    const jwt = await signToken(key, { iss: ISS, aud: url });
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: randomUUID(),
        fhirServer: service.fhirBase,
        fhirAuthorization: {
          access_token: ACCESS_TOKEN,
          token_type: 'Bearer',
          expires_in: 300,
          scope: 'patient/*.read',
          subject: 'cds-service',
        },
        context: { userId: 'Practitioner/example', patientId: 'sle-eligible' },
      }),
    });
    expect(res.status).toBe(200);
    const body = SpecResponseSchema.parse(await res.json());
    expect(body.cards.length).toBeGreaterThan(0);
    // the same token again: a replay
    const replay = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      body: '{}',
    });
    expect(replay.status).toBe(401);

    const text = service.logs.lines.join('\n');
    expect(
      service.logs.records.some((r) => r.msg === 'patient-view answered' && r.iss === ISS),
    ).toBe(true);
    expect(service.logs.records.some((r) => r.reason === 'replay')).toBe(true);
    for (const secret of [
      jwt,
      jwt.split('.')[2] as string,
      ACCESS_TOKEN,
      'sle-eligible',
      'Maria',
      'Demo-Lupus',
    ])
      expect(text).not.toContain(secret);
  });

  it('refuses a fhirServer the issuer may not name, without calling it', async () => {
    const url = `${service.base}/cds-services/trial-matcher`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await signToken(key, { iss: ISS, aud: url })}`,
      },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: randomUUID(),
        fhirServer: 'http://169.254.169.254/latest',
        context: { userId: 'Practitioner/example', patientId: 'sle-eligible' },
      }),
    });
    expect(res.status).toBe(412);
  });
});
