/** Issue 15 items 11 and 12: the token's own lifetime, and JWK Set fetches while the endpoint fails. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createClientAuthenticator } from '../../src/security/client-auth.js';
import { parseTrustedIssuers } from '../../src/security/trusted-issuers.js';
import { makeCdsRequest, makeDeps } from '../support/http-deps.js';
import { makeKey, signToken, type TestKey } from '../support/jwt.js';

const BASE = 'https://cds.example.org';
const CALL = '/cds-services/trial-matcher';
const ISS = 'https://ehr.example.org';

describe('JWT checks (issue 15)', () => {
  let key: TestKey;
  beforeAll(async () => {
    key = await makeKey('ES384');
  });

  it('refuses a token whose exp - iat is over an hour, though exp - now is under', async () => {
    const authenticator = createClientAuthenticator({
      issuers: parseTrustedIssuers([{ iss: ISS, jwks: { keys: [key.publicJwk] } }]),
      clockToleranceSec: 30,
      replayCacheSize: 100,
      jwks: { timeoutMs: 1000, maxResponseBytes: 100_000 },
    });
    const deps = makeDeps({
      authenticator,
      config: { corsOrigins: [], bodyLimit: '100kb', publicBaseUrl: BASE },
    });
    const app = createApp(deps);
    const aud = `${BASE}${CALL}`;
    // issued 30 min ago for 80 min: 50 min left
    const long = await signToken(key, { iss: ISS, aud, issuedAt: -1800, expiresIn: 3000 });
    await request(app)
      .post(CALL)
      .set('Authorization', `Bearer ${long}`)
      .send(makeCdsRequest())
      .expect(401);
    expect(
      deps.logs.records
        .filter((r) => r.msg === 'client authentication failed')
        .map((r) => r.reason),
    ).toEqual(['lifetime']);
    // issued 30 min ago for 55 min: accepted
    const fine = await signToken(key, { iss: ISS, aud, issuedAt: -1800, expiresIn: 1500 });
    await request(app)
      .post(CALL)
      .set('Authorization', `Bearer ${fine}`)
      .send(makeCdsRequest())
      .expect(200);
    await authenticator.close();
  });

  describe('a failing JWK Set endpoint', () => {
    let server: Server;
    let url: string;
    let hits = 0;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        hits++;
        res.writeHead(503).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/jwks.json`;
    });
    afterAll(
      () =>
        new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    );

    it('is fetched once per cooldown, whatever kid forged tokens name, per issuer', async () => {
      let clock = Date.now();
      const other = 'https://other-ehr.example.org';
      const authenticator = createClientAuthenticator({
        issuers: parseTrustedIssuers([
          { iss: ISS, jwksUrl: url },
          { iss: other, jwksUrl: `${url}?other` },
        ]),
        clockToleranceSec: 30,
        replayCacheSize: 100,
        jwks: { timeoutMs: 1000, maxResponseBytes: 100_000, failureCooldownMs: 30_000 },
        now: () => clock,
      });
      const forged = async (iss: string, n: number) =>
        authenticator.authenticate(
          `Bearer ${await signToken(key, { iss, aud: 'x', kid: `made-up-${String(n)}` })}`,
          'x',
        );
      hits = 0;
      for (let n = 0; n < 10; n++)
        expect(await forged(ISS, n)).toMatchObject({ ok: false, reason: 'jwks-unavailable' });
      expect(hits).toBe(1);
      // another issuer has its own cooldown
      expect(await forged(other, 0)).toMatchObject({ ok: false, reason: 'jwks-unavailable' });
      expect(hits).toBe(2);
      // after the cooldown: fetched again, once
      clock += 31_000;
      for (let n = 0; n < 5; n++) await forged(ISS, n);
      expect(hits).toBe(3);
      await authenticator.close();
    });
  });
});
