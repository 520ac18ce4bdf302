/**
 * Issue 17: replicas behind a load balancer share state on PostgreSQL. Real service processes
 * (src/main.ts) on one database started by the test: a card issued by one replica and its feedback
 * sent to the other is stored with its trial; a token used on one is refused by the other; a
 * replica killed with SIGKILL mid-flood loses no feedback it acknowledged with 200; with the
 * database gone, authenticated calls answer 503 and unauthenticated hook calls still get cards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { main as feedbackReport } from '../../src/cli/feedback-report.js';
import { makeKey, signToken, type TestKey } from '../support/jwt.js';
import { startPostgres, type PostgresCluster } from '../support/postgres-cluster.js';
import { startReplica, type Replica } from '../support/replica.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ISS = 'https://ehr.example.org';
const PUBLIC = 'https://cds.example.org';
const CALL = '/cds-services/trial-matcher';
const FEEDBACK = '/cds-services/trial-matcher/feedback';

type Json = Record<string, unknown>;
interface Card {
  uuid: string;
  source: { topic?: { code?: string } };
  suggestions?: { uuid?: string }[];
}

/** The SLE demo patient as a complete prefetch (no FHIR server needed). */
function hookCall(): Json {
  const hooks = JSON.parse(readFileSync(join(ROOT, 'hooks/trial-matcher.json'), 'utf8')) as {
    prefetch: Record<string, string>;
  };
  const bundle = JSON.parse(
    readFileSync(join(ROOT, 'demo/patients/sle-eligible.json'), 'utf8'),
  ) as {
    entry: { resource: Json }[];
  };
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
      total: items.length,
      entry: items.map((resource) => ({ resource })),
    };
  }
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/demo-rheumatologist', patientId: patient.id },
    prefetch,
  };
}

/** Whether a replica logged a line holding `text` (its stdout arrives a moment after the answer). */
async function logged(replica: Replica, text: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (replica.logs.some((l) => l.includes(text))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('replicas on one PostgreSQL database', () => {
  let cluster: PostgresCluster;
  let databaseUrl: string;
  let key: TestKey;
  let dir: string;
  let a: Replica;
  let b: Replica;
  let open: Replica;
  const started: Replica[] = [];

  const token = (path: string): Promise<string> =>
    signToken(key, { iss: ISS, aud: `${PUBLIC}${path}` });
  const post = async (
    replica: Replica,
    path: string,
    body: unknown,
    auth?: string,
  ): Promise<Response> =>
    fetch(`${replica.base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${auth ?? (await token(path))}`,
      },
      body: JSON.stringify(body),
    });
  const replica = async (env: Record<string, string>): Promise<Replica> => {
    const r = await startReplica({
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '4',
      FEEDBACK_DB_PATH: join(dir, 'unused.sqlite'),
      DEMO_FHIR: 'false',
      ...env,
    });
    started.push(r);
    return r;
  };
  const authenticated = (): Record<string, string> => ({
    CDS_TRUSTED_ISSUERS: join(dir, 'issuers.json'),
    PUBLIC_BASE_URL: PUBLIC,
  });
  const sql = async <T extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<T[]> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'replicas-'));
    cluster = await startPostgres();
    databaseUrl = await cluster.createDatabase();
    key = await makeKey('ES256');
    writeFileSync(
      join(dir, 'issuers.json'),
      JSON.stringify([{ iss: ISS, jwks: { keys: [key.publicJwk] } }]),
    );
    // Three replicas starting at once (migrations race): two authenticated, one open (no issuers).
    [a, b, open] = await Promise.all([
      replica(authenticated()),
      replica(authenticated()),
      replica({}),
    ]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores feedback sent to one replica on a card issued by the other, with its trial', async () => {
    const answer = await post(a, CALL, hookCall());
    expect(answer.status).toBe(200);
    const { cards } = (await answer.json()) as { cards: Card[] };
    expect(cards.length).toBeGreaterThan(0);
    const card = cards[0] as Card;
    const feedback = {
      feedback: [
        {
          card: card.uuid,
          outcome: 'accepted',
          acceptedSuggestions: [{ id: card.suggestions?.[0]?.uuid ?? 'none' }],
          outcomeTimestamp: new Date().toISOString(),
        },
      ],
    };
    expect((await post(b, FEEDBACK, feedback)).status).toBe(200);
    // Resent to the first replica a moment later: the same decision, stored once.
    expect((await post(a, FEEDBACK, feedback)).status).toBe(200);
    const rows = await sql<{ trial_id: string }>(
      'SELECT trial_id FROM feedback WHERE card_uuid = $1',
      [card.uuid],
    );
    expect(rows).toEqual([{ trial_id: card.source.topic?.code }]);

    // feedback:report reads the same database through DATABASE_URL.
    let out = '';
    const code = await feedbackReport(
      ['--format', 'json'],
      { DATABASE_URL: databaseUrl },
      (t) => (out += t),
    );
    expect(code).toBe(0);
    const { trials } = JSON.parse(out) as {
      trials: { trialId: string; shown: number; accepted: number }[];
    };
    expect(trials.find((t) => t.trialId === card.source.topic?.code)).toMatchObject({
      shown: 1,
      accepted: 1,
    });
  });

  it('refuses on one replica a token already used on the other', async () => {
    const used = await token('/cds-services');
    const get = (r: Replica): Promise<Response> =>
      fetch(`${r.base}/cds-services`, { headers: { authorization: `Bearer ${used}` } });
    expect((await get(a)).status).toBe(200);
    expect((await get(b)).status).toBe(401);
    expect((await get(a)).status).toBe(401);
    expect(await logged(b, '"reason":"replay"')).toBe(true);
  });

  it('loses no acknowledged feedback when a replica is killed with SIGKILL mid-flood', async () => {
    const victim = await replica(authenticated());
    const acknowledged: string[] = [];
    let killed = false;
    const worker = async (): Promise<void> => {
      while (!killed) {
        const card = randomUUID();
        try {
          const res = await post(victim, FEEDBACK, {
            feedback: [{ card, outcome: 'overridden', outcomeTimestamp: new Date().toISOString() }],
          });
          if (res.status === 200) acknowledged.push(card);
        } catch {
          // the connection died with the process
        }
      }
    };
    const flood = Promise.all(Array.from({ length: 12 }, worker));
    while (acknowledged.length < 50) await new Promise((r) => setTimeout(r, 20));
    await victim.kill();
    killed = true;
    await flood;
    expect(victim.process.signalCode).toBe('SIGKILL');
    const stored = new Set(
      (
        await sql<{ card_uuid: string }>(
          'SELECT card_uuid FROM feedback WHERE card_uuid = ANY($1)',
          [acknowledged],
        )
      ).map((r) => r.card_uuid),
    );
    expect(acknowledged.filter((c) => !stored.has(c))).toEqual([]);
  }, 120_000);

  it('answers 503 to authenticated calls while the database is away; open hook calls still get cards', async () => {
    await cluster.shutdown();
    try {
      const refused = await post(a, CALL, hookCall());
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient' }],
      });
      expect(await logged(a, '"reason":"replay-cache-unavailable"')).toBe(true);

      const answered = await fetch(`${open.base}${CALL}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(hookCall()),
      });
      expect(answered.status).toBe(200);
      const { cards } = (await answered.json()) as { cards: Card[] };
      expect(cards.length).toBeGreaterThan(0);
      const feedback = await fetch(`${open.base}${FEEDBACK}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          feedback: [
            {
              card: cards[0]?.uuid,
              outcome: 'overridden',
              outcomeTimestamp: new Date().toISOString(),
            },
          ],
        }),
      });
      expect(feedback.status).toBe(503);
      expect(await feedback.json()).toMatchObject({ resourceType: 'OperationOutcome' });
      // The log says why (the driver's error, no patient data).
      expect(await logged(open, '"msg":"the database is unavailable"')).toBe(true);
      expect(await logged(open, '"msg":"could not remember issued cards"')).toBe(true);
    } finally {
      await cluster.start();
    }
    // Back: the same replicas work again, without a restart.
    expect((await post(a, CALL, hookCall())).status).toBe(200);
  }, 60_000);
});
