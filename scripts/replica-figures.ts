/**
 * `DATABASE_URL=postgres://... npm run replica:figures`
 *
 * Issue 17's figures, small and bounded, on loopback: feedback writes per second on one replica
 * with SQLite and with PostgreSQL, and the hook call's p50 with client authentication on (the
 * replay check on PostgreSQL) and off. Each replica is `src/main.ts` in its own process
 * (ENGINE_WORKERS=1). Prints the figures; asserts nothing (a shared machine makes them noisy).
 * Without DATABASE_URL only the SQLite figure is measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FEEDBACK_SECONDS = 3;
const FEEDBACK_CONCURRENCY = 8;
const HOOK_CALLS = 150;
const PUBLIC = 'https://cds.example.org';
const ISS = 'https://ehr.example.org';

type Json = Record<string, unknown>;

async function startReplica(
  env: Record<string, string>,
): Promise<{ base: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      ENGINE_WORKERS: '1',
      LOG_LEVEL: 'info',
      DEMO_FHIR: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines)
        if (line.includes('"msg":"listening"'))
          resolve({
            base: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`,
            child,
          });
    });
    child.once('exit', (code) => {
      reject(new Error(`replica exited ${String(code)}`));
    });
  });
}

function hookCall(): Json {
  const hooks = JSON.parse(readFileSync(join(ROOT, 'hooks/trial-matcher.json'), 'utf8')) as {
    prefetch: Record<string, string>;
  };
  const bundle = JSON.parse(
    readFileSync(join(ROOT, 'demo/patients/sle-eligible.json'), 'utf8'),
  ) as { entry: { resource: Json }[] };
  const resources = bundle.entry.map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient') as Json;
  const categories = (r: Json): string[] =>
    ((r.category ?? []) as { coding?: { code?: string }[] }[]).flatMap((c) =>
      (c.coding ?? []).map((x) => x.code ?? ''),
    );
  const prefetch: Json = {};
  for (const [key, template] of Object.entries(hooks.prefetch)) {
    if (key === 'patient') {
      prefetch[key] = patient;
      continue;
    }
    const type = template.split('?')[0] as string;
    const category = /category=([a-z-]+)/.exec(template)?.[1];
    const items = resources.filter(
      (r) =>
        r.resourceType === type && (category === undefined || categories(r).includes(category)),
    );
    prefetch[key] = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: items.map((resource) => ({ resource })),
    };
  }
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/x', patientId: patient.id },
    prefetch,
  };
}

async function feedbackWritesPerSecond(env: Record<string, string>): Promise<number> {
  const { base, child } = await startReplica(env);
  let stored = 0;
  const until = Date.now() + FEEDBACK_SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const res = await fetch(`${base}/cds-services/trial-matcher/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          feedback: [
            {
              card: randomUUID(),
              outcome: 'overridden',
              outcomeTimestamp: new Date().toISOString(),
            },
          ],
        }),
      });
      await res.arrayBuffer();
      if (res.status === 200) stored++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: FEEDBACK_CONCURRENCY }, worker));
  const rate = stored / ((Date.now() - started) / 1000);
  child.kill('SIGTERM');
  return Math.round(rate);
}

async function hookP50(
  env: Record<string, string>,
  token?: () => Promise<string>,
): Promise<number> {
  const { base, child } = await startReplica(env);
  const times: number[] = [];
  for (let i = 0; i < HOOK_CALLS + 10; i++) {
    const body = JSON.stringify(hookCall());
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${await token()}`;
    const t0 = performance.now();
    const res = await fetch(`${base}/cds-services/trial-matcher`, {
      method: 'POST',
      headers,
      body,
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`hook call answered ${res.status}`);
    if (i >= 10) times.push(performance.now() - t0);
  }
  child.kill('SIGTERM');
  times.sort((a, b) => a - b);
  return Math.round((times[Math.floor(times.length / 2)] ?? 0) * 10) / 10;
}

const dir = mkdtempSync(join(tmpdir(), 'replica-figures-'));
try {
  const figures: Json = {};
  figures.feedbackWritesPerSecSqlite = await feedbackWritesPerSecond({
    FEEDBACK_DB_PATH: join(dir, 'f.sqlite'),
  });
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '') {
    figures.feedbackWritesPerSecPostgres = await feedbackWritesPerSecond({
      DATABASE_URL: databaseUrl,
    });
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    writeFileSync(join(dir, 'issuers.json'), JSON.stringify([{ iss: ISS, jwks: { keys: [jwk] } }]));
    const token = (): Promise<string> =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'k1' })
        .setIssuer(ISS)
        .setAudience(`${PUBLIC}/cds-services/trial-matcher`)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    figures.hookP50MsAuthOffPostgres = await hookP50({ DATABASE_URL: databaseUrl });
    figures.hookP50MsAuthOnPostgres = await hookP50(
      {
        DATABASE_URL: databaseUrl,
        CDS_TRUSTED_ISSUERS: join(dir, 'issuers.json'),
        PUBLIC_BASE_URL: PUBLIC,
      },
      token,
    );
  }
  process.stdout.write(
    `${JSON.stringify({ ...figures, note: 'loopback, one replica, ENGINE_WORKERS=1, shared machine: noisy' }, null, 2)}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
