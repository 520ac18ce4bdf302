/** Keys and JWTs for the client authentication tests, generated in the test (jose). */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface TestKey {
  readonly alg: 'ES256' | 'ES384' | 'RS256' | 'RS384';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeKey(
  alg: TestKey['alg'],
  kid = `${alg}-${randomUUID()}`,
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export interface TokenOptions {
  readonly iss: string;
  readonly aud: string | string[];
  /** Seconds from now (negative: in the past). */
  readonly expiresIn?: number;
  readonly issuedAt?: number;
  readonly notBefore?: number;
  readonly jti?: string;
  readonly kid?: string;
  readonly jku?: string;
  readonly extra?: Record<string, unknown>;
}

/** A CDS Hooks client JWT as the spec describes it. */
export async function signToken(key: TestKey, options: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...options.extra, jti: options.jti ?? randomUUID() })
    .setProtectedHeader({
      alg: key.alg,
      typ: 'JWT',
      kid: options.kid ?? key.kid,
      ...(options.jku !== undefined ? { jku: options.jku } : {}),
    })
    .setIssuer(options.iss)
    .setAudience(options.aud)
    .setIssuedAt(now + (options.issuedAt ?? 0))
    .setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key.privateKey);
}

export function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  );
}

/** A JWK Set served over HTTP on 127.0.0.1 port 0; its keys can change (rotation). */
export interface JwksServer {
  readonly url: string;
  keys: JWK[];
  hits: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[], path = '/jwks.json'): Promise<JwksServer> {
  const state = { keys, hits: 0 };
  const server: Server = createServer((req, res) => {
    state.hits++;
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return Object.assign(state, {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  });
}
