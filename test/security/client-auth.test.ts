import { randomUUID } from 'node:crypto';
import { exportSPKI, importJWK, SignJWT, type CryptoKey } from 'jose';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createClientAuthenticator } from '../../src/security/client-auth.js';
import { MemoryReplayCache } from '../../src/security/replay-cache.js';
import { parseTrustedIssuers } from '../../src/security/trusted-issuers.js';
import { makeCdsRequest, makeDeps } from '../support/http-deps.js';
import {
  base64url,
  makeKey,
  signToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from '../support/jwt.js';

const BASE = 'https://cds.example.org';
const CALL = '/cds-services/trial-matcher';
const DISCOVERY = '/cds-services';
const ISS = 'https://ehr.example.org/fhir';
const REMOTE_ISS = 'https://remote-ehr.example.org';

describe('client authentication (CDS Hooks "Trusting CDS Clients")', () => {
  let es384: TestKey;
  let rs384: TestKey;
  let es256: TestKey;
  let stranger: TestKey;
  let jwks: JwksServer;
  let rotated: TestKey;
  let first: TestKey;

  beforeAll(async () => {
    [es384, rs384, es256, stranger, first, rotated] = await Promise.all([
      makeKey('ES384'),
      makeKey('RS384'),
      makeKey('ES256'),
      makeKey('ES384'),
      makeKey('ES384'),
      makeKey('RS384'),
    ]);
    jwks = await startJwksServer([first.publicJwk]);
  });
  afterAll(() => jwks.close());

  function setup() {
    const issuers = parseTrustedIssuers([
      { iss: ISS, jwks: { keys: [es384.publicJwk, rs384.publicJwk, es256.publicJwk] } },
      { iss: REMOTE_ISS, jwksUrl: jwks.url },
    ]);
    const authenticator = createClientAuthenticator({
      issuers,
      clockToleranceSec: 30,
      replayCacheSize: 1000,
      jwks: { timeoutMs: 1000, maxResponseBytes: 100_000, cooldownMs: 0 },
    });
    const deps = makeDeps({
      authenticator,
      config: {
        corsOrigins: ['https://sandbox.cds-hooks.org'],
        bodyLimit: '100kb',
        publicBaseUrl: BASE,
      },
    });
    const app = createApp(deps);
    const reasons = () =>
      deps.logs.records
        .filter((r) => r.msg === 'client authentication failed')
        .map((r) => r.reason);
    return { app, deps, reasons, authenticator };
  }

  const call = (app: ReturnType<typeof setup>['app'], token: string | undefined) => {
    const req = request(app).post(CALL);
    if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
    return req.send(makeCdsRequest());
  };

  describe('accepts', () => {
    it.each([['ES384'], ['RS384'], ['ES256']])('a valid %s token on a hook call', async (alg) => {
      const { app, authenticator } = setup();
      const key = { ES384: es384, RS384: rs384, ES256: es256 }[alg] as TestKey;
      const token = await signToken(key, { iss: ISS, aud: `${BASE}${CALL}` });
      const res = await call(app, token).expect(200);
      expect(res.body).toEqual({ cards: [] });
      await authenticator.close();
    });

    it('a valid token on discovery, with aud the discovery URL', async () => {
      const { app } = setup();
      const token = await signToken(rs384, { iss: ISS, aud: `${BASE}${DISCOVERY}` });
      await request(app).get(DISCOVERY).set('Authorization', `Bearer ${token}`).expect(200);
    });

    it('an aud array that holds the URL called', async () => {
      const { app } = setup();
      const token = await signToken(es384, { iss: ISS, aud: ['https://other', `${BASE}${CALL}`] });
      await call(app, token).expect(200);
    });

    it('a token a few seconds from the future, within the clock skew', async () => {
      const { app } = setup();
      const token = await signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, issuedAt: 10 });
      await call(app, token).expect(200);
    });

    it('/healthz and the CORS preflight without a token', async () => {
      const { app } = setup();
      await request(app).get('/healthz').expect(200);
      await request(app)
        .options(CALL)
        .set('Origin', 'https://sandbox.cds-hooks.org')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization, content-type')
        .expect(204);
    });
  });

  describe('answers a bare 401', () => {
    const cases: [string, string, () => Promise<string | undefined>][] = [
      ['missing header', 'missing', () => Promise.resolve(undefined)],
      ['not a JWT', 'malformed', () => Promise.resolve('not-a-jwt')],
      [
        'wrong aud',
        'audience',
        () => signToken(es384, { iss: ISS, aud: `${BASE}/cds-services/other` }),
      ],
      [
        'aud of another host',
        'audience',
        () => signToken(es384, { iss: ISS, aud: `https://evil.example${CALL}` }),
      ],
      [
        'expired',
        'expired',
        () =>
          signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, issuedAt: -600, expiresIn: -120 }),
      ],
      [
        'not yet valid (nbf)',
        'not-yet-valid',
        () => signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, notBefore: 300 }),
      ],
      [
        'issued in the future (iat)',
        'issued-in-future',
        () => signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, issuedAt: 600, expiresIn: 900 }),
      ],
      [
        'a lifetime over an hour',
        'lifetime',
        () => signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, expiresIn: 2 * 3600 }),
      ],
      [
        'unknown iss',
        'unknown-issuer',
        () => signToken(es384, { iss: 'https://unknown.example', aud: `${BASE}${CALL}` }),
      ],
      [
        'unknown kid',
        'unknown-key',
        () => signToken(stranger, { iss: ISS, aud: `${BASE}${CALL}` }),
      ],
      [
        'a known kid with another key',
        'signature',
        () => signToken(stranger, { iss: ISS, aud: `${BASE}${CALL}`, kid: es384.kid }),
      ],
      [
        'jku off the allowlist',
        'jku-not-allowed',
        () =>
          signToken(es384, {
            iss: ISS,
            aud: `${BASE}${CALL}`,
            jku: 'https://evil.example/jwks.json',
          }),
      ],
      [
        'jku of another issuer',
        'jku-not-allowed',
        () => signToken(first, { iss: ISS, aud: `${BASE}${CALL}`, jku: jwks.url }),
      ],
      [
        'alg none',
        'algorithm',
        () => {
          const now = Math.floor(Date.now() / 1000);
          return Promise.resolve(
            `${base64url({ alg: 'none', typ: 'JWT', kid: es384.kid })}.${base64url({ iss: ISS, aud: `${BASE}${CALL}`, iat: now, exp: now + 300, jti: randomUUID() })}.`,
          );
        },
      ],
      [
        'HS256 signed with the public key',
        'algorithm',
        async () => {
          // The classic confusion attack: the RSA public key (PEM) used as an HMAC secret.
          const pem = await exportSPKI((await importJWK(rs384.publicJwk, 'RS384')) as CryptoKey);
          return new SignJWT({ jti: randomUUID() })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: rs384.kid })
            .setIssuer(ISS)
            .setAudience(`${BASE}${CALL}`)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(new TextEncoder().encode(pem));
        },
      ],
      [
        'tampered payload',
        'signature',
        async () => {
          const [header, , signature] = (
            await signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, extra: { sub: 'a' } })
          ).split('.');
          const now = Math.floor(Date.now() / 1000);
          const forged = base64url({
            iss: ISS,
            aud: `${BASE}${CALL}`,
            iat: now,
            exp: now + 300,
            jti: randomUUID(),
            sub: 'admin',
          });
          return `${header}.${forged}.${signature}`;
        },
      ],
      [
        'no jti',
        'claims',
        () =>
          new SignJWT({})
            .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: es384.kid })
            .setIssuer(ISS)
            .setAudience(`${BASE}${CALL}`)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(es384.privateKey),
      ],
      [
        'no kid',
        'malformed',
        () =>
          new SignJWT({ jti: randomUUID() })
            .setProtectedHeader({ alg: 'ES384', typ: 'JWT' })
            .setIssuer(ISS)
            .setAudience(`${BASE}${CALL}`)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(es384.privateKey),
      ],
    ];

    it.each(cases)('%s', async (_name, reason, makeToken) => {
      const { app, deps, reasons } = setup();
      const token = await makeToken();
      const res = await call(app, token).expect(401);
      expect(res.text).toBe('');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(reasons()).toEqual([reason]);
      if (token !== undefined) expect(deps.logs.lines.join('\n')).not.toContain(token);
    });

    it('on discovery without a token', async () => {
      const { app } = setup();
      const res = await request(app).get(DISCOVERY).expect(401);
      expect(res.text).toBe('');
    });

    it('for a replayed jti (the first use passes)', async () => {
      const { app, reasons } = setup();
      const token = await signToken(es384, { iss: ISS, aud: `${BASE}${CALL}` });
      await call(app, token).expect(200);
      await call(app, token).expect(401);
      const again = await signToken(es384, { iss: ISS, aud: `${BASE}${CALL}`, jti: 'reused-jti' });
      await call(app, again).expect(200);
      const same = await signToken(rs384, { iss: ISS, aud: `${BASE}${CALL}`, jti: 'reused-jti' });
      await call(app, same).expect(401);
      expect(reasons()).toEqual(['replay', 'replay']);
    });

    it('before reading the body: an unauthenticated call never reaches the service', async () => {
      const { app, deps } = setup();
      await request(app)
        .post(CALL)
        .set('Content-Type', 'application/json')
        .send('{ broken')
        .expect(401);
      expect(deps.logs.records.some((r) => r.msg === 'patient-view answered')).toBe(false);
    });
  });

  describe('a JWK Set fetched from jwksUrl', () => {
    it('verifies with the fetched key, then fetches again for a new kid (rotation)', async () => {
      jwks.keys = [first.publicJwk];
      const { app, authenticator, reasons } = setup();
      const hitsBefore = jwks.hits;
      await call(app, await signToken(first, { iss: REMOTE_ISS, aud: `${BASE}${CALL}` })).expect(
        200,
      );
      await call(app, await signToken(first, { iss: REMOTE_ISS, aud: `${BASE}${CALL}` })).expect(
        200,
      );
      expect(jwks.hits - hitsBefore).toBe(1); // cached
      jwks.keys = [rotated.publicJwk];
      await call(app, await signToken(rotated, { iss: REMOTE_ISS, aud: `${BASE}${CALL}` })).expect(
        200,
      );
      expect(jwks.hits - hitsBefore).toBe(2);
      // a kid in neither set: refetched, still unknown
      await call(app, await signToken(stranger, { iss: REMOTE_ISS, aud: `${BASE}${CALL}` })).expect(
        401,
      );
      expect(reasons()).toEqual(['unknown-key']);
      await authenticator.close();
    });

    it('accepts a jku equal to the jwksUrl', async () => {
      jwks.keys = [first.publicJwk];
      const { app, authenticator } = setup();
      const token = await signToken(first, {
        iss: REMOTE_ISS,
        aud: `${BASE}${CALL}`,
        jku: jwks.url,
      });
      await call(app, token).expect(200);
      await authenticator.close();
    });

    it('answers 401 when the JWK Set cannot be fetched', async () => {
      const issuers = parseTrustedIssuers([
        { iss: REMOTE_ISS, jwksUrl: 'http://127.0.0.1:9/jwks' },
      ]);
      const authenticator = createClientAuthenticator({
        issuers,
        clockToleranceSec: 30,
        replayCacheSize: 100,
        jwks: { timeoutMs: 500, maxResponseBytes: 100_000 },
      });
      const result = await authenticator.authenticate(
        `Bearer ${await signToken(first, { iss: REMOTE_ISS, aud: 'x' })}`,
        'x',
      );
      expect(result).toMatchObject({ ok: false, reason: 'jwks-unavailable', iss: REMOTE_ISS });
      await authenticator.close();
    });
  });

  describe('CDS_TRUSTED_ISSUERS', () => {
    it('refuses private key material, HMAC keys and an issuer with no keys', () => {
      expect(() =>
        parseTrustedIssuers([{ iss: ISS, jwks: { keys: [{ ...es384.publicJwk, d: 'x' }] } }]),
      ).toThrow(/public keys only/);
      expect(() =>
        parseTrustedIssuers([
          { iss: ISS, jwks: { keys: [{ kty: 'oct', kid: 'k', k: 'c2VjcmV0' }] } },
        ]),
      ).toThrow();
      expect(() => parseTrustedIssuers([{ iss: ISS }])).toThrow(/exactly one/);
      expect(() =>
        parseTrustedIssuers([{ iss: ISS, jwksUrl: 'http://ehr.example.org/jwks' }]),
      ).toThrow(/https/);
      expect(() => parseTrustedIssuers([])).toThrow();
    });

    it('lets an issuer name its own iss as fhirServer by default', () => {
      const [issuer] = parseTrustedIssuers([
        { iss: `${ISS}/`, jwksUrl: 'https://ehr.example.org/jwks' },
      ]);
      expect(issuer?.fhirServers).toEqual([ISS]);
      expect(issuer?.allowedJku).toEqual(['https://ehr.example.org/jwks']);
    });
  });
});

describe('MemoryReplayCache', () => {
  it('remembers an id until it expires, and stays bounded', () => {
    let now = 0;
    const cache = new MemoryReplayCache(3, () => now);
    expect(cache.rememberNow('a', 100)).toBe(true);
    expect(cache.rememberNow('a', 100)).toBe(false);
    now = 101;
    expect(cache.rememberNow('a', 200)).toBe(true);
    for (const id of ['b', 'c', 'd', 'e']) cache.rememberNow(id, 1000);
    expect(cache.size).toBe(3);
    expect(cache.evictedBeforeExpiry).toBe(2);
  });
});
