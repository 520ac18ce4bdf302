/**
 * Issue 15 items 3 and 8 and its "Also", issue 14's feedback points, over HTTP: OPTIONS before
 * any body parsing, Cache-Control on hook answers, how each answer is counted, feedback bounded
 * and in the shapes the CDS Hooks Sandbox sends, and the log lines of feedback and of a 401.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { HookAnswered } from '../../src/http/cds-services-router.js';
import type { ScreeningEngine } from '../../src/cds-hooks/patient-view.js';
import { EngineOverloadedError } from '../../src/shared/errors.js';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';
import { createClientAuthenticator } from '../../src/security/client-auth.js';
import { parseTrustedIssuers } from '../../src/security/trusted-issuers.js';
import { makeCdsRequest, makeDeps } from '../support/http-deps.js';
import { makeKey } from '../support/jwt.js';

const CALL = '/cds-services/trial-matcher';
const FEEDBACK = '/cds-services/trial-matcher/feedback';
const CARD = '11111111-1111-4111-8111-111111111111';
const REASONS = 'urn:cds-trial-matcher:override-reason';

describe('OPTIONS (issue 15 item 8)', () => {
  it('answers a non-preflight OPTIONS without reading its body, however large', async () => {
    const app = createApp(makeDeps());
    const big = JSON.stringify({ x: 'y'.repeat(300_000) }); // over the 100kb limit
    const res = await request(app)
      .options(CALL)
      .set('Content-Type', 'application/json')
      .send(big)
      .expect(204);
    expect(res.headers.allow).toBe('GET, POST, OPTIONS');
    await request(app)
      .options(CALL)
      .set('Content-Type', 'application/json')
      .send('{nope')
      .expect(204);
  });
});

describe("the hook calls' body parser (issue 15 item 3)", () => {
  it("reads no body but a hook call's: discovery and unknown paths ignore theirs", async () => {
    const app = createApp(makeDeps());
    const bad = () => request(app).get('/cds-services').set('Content-Type', 'application/json');
    await bad().send('{nope').expect(200);
    await request(app)
      .post('/cds-services/trial-matcher/elsewhere')
      .set('Content-Type', 'application/json')
      .send('{nope')
      .expect(404);
  });
});

describe('hook answers (issue 15, "Also")', () => {
  it('carry Cache-Control: no-store, errors included', async () => {
    const app = createApp(makeDeps());
    const ok = await request(app).post(CALL).send(makeCdsRequest()).expect(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    const bad = await request(app).post(CALL).send({ hook: 'patient-view' }).expect(400);
    expect(bad.headers['cache-control']).toBe('no-store');
  });

  it('report each answer once with its outcome, for a metric and on the log line', async () => {
    const events: HookAnswered[] = [];
    const onHookAnswered = (e: HookAnswered) => events.push(e);
    const normal = makeDeps({ onHookAnswered, requestBudgetMs: 5000 });
    await request(createApp(normal)).post(CALL).send(makeCdsRequest()).expect(200);
    const slow: ScreeningEngine = { trials: [], screen: () => new Promise(() => undefined) };
    const late = makeDeps({ onHookAnswered, engine: slow, requestBudgetMs: 100 });
    await request(createApp(late)).post(CALL).send(makeCdsRequest()).expect(200);
    const shed: ScreeningEngine = {
      trials: [],
      screen: () => Promise.reject(new EngineOverloadedError('queue full')),
    };
    const busy = makeDeps({ onHookAnswered, engine: shed, requestBudgetMs: 5000 });
    await request(createApp(busy)).post(CALL).send(makeCdsRequest()).expect(200);
    expect(events.map((e) => [e.serviceId, e.outcome])).toEqual([
      ['trial-matcher', 'cards'],
      ['trial-matcher', 'budget-exceeded'],
      ['trial-matcher', 'overloaded'],
    ]);
    const outcomeOf = (deps: ReturnType<typeof makeDeps>) =>
      deps.logs.records.filter((r) => r.outcome !== undefined).map((r) => [r.msg, r.outcome]);
    expect(outcomeOf(normal)).toEqual([['patient-view answered', 'cards']]);
    expect(outcomeOf(late)).toEqual([
      ['time budget exceeded: answered no cards', 'budget-exceeded'],
    ]);
    expect(outcomeOf(busy)).toEqual([['engine overloaded: answered no cards', 'overloaded']]);
  });
});

describe('feedback (issue 15 item 3, issue 14)', () => {
  let dir: string;
  let store: SqliteFeedbackStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hardening-'));
    store = new SqliteFeedbackStore(join(dir, 'feedback.sqlite'));
    await store.remember({
      serviceId: 'trial-matcher',
      hookInstance: '99999999-9999-4999-8999-999999999999',
      cards: [{ uuid: CARD, trialId: 'NCT06892145' }],
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const entry = (extra: Record<string, unknown> = {}) => ({
    card: CARD,
    outcome: 'overridden',
    overrideReason: { reason: { system: REASONS, code: 'patient-declined' } },
    outcomeTimestamp: '2026-11-22T10:00:00Z',
    ...extra,
  });

  it("has its own small body limit, below the hook calls' (413 past 64 KiB)", async () => {
    // the hook calls' limit is 5mb here, as in production
    const deps = makeDeps({ feedbackStore: store, config: { corsOrigins: [], bodyLimit: '5mb' } });
    const res = await request(createApp(deps))
      .post(FEEDBACK)
      .send({ feedback: [entry({ card: 'c'.repeat(100_000) })] })
      .expect(413);
    expect(res.body).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('takes at most 100 entries, strings of bounded length and card uuids (400)', async () => {
    const app = createApp(makeDeps({ feedbackStore: store }));
    const many = await request(app)
      .post(FEEDBACK)
      .send({ feedback: Array.from({ length: 101 }, () => entry()) })
      .expect(400);
    expect(many.body.issue[0].diagnostics).toMatch(/at most 100 entries/);
    const long = await request(app)
      .post(FEEDBACK)
      .send({ feedback: [entry({ overrideReason: { userComment: 'x'.repeat(5000) } })] })
      .expect(400);
    expect(long.body.issue[0].expression).toEqual(['feedback[0].overrideReason.userComment']);
    const notUuid = await request(app)
      .post(FEEDBACK)
      .send({ feedback: [entry({ card: 'not-a-card' })] })
      .expect(400);
    expect(notUuid.body.issue[0].expression).toEqual(['feedback[0].card']);
  });

  it("stores the Sandbox's shapes: a reason without display, a userComment, extra fields", async () => {
    const deps = makeDeps({ feedbackStore: store });
    const app = createApp(deps);
    await request(app)
      .post(FEEDBACK)
      .set('X-Request-Id', 'feedback-req-1')
      .send({
        feedback: [
          entry({
            overrideReason: {
              reason: { system: REASONS, code: 'patient-declined', userSelected: true },
              userComment: 'prefers to wait',
              extension: [{ url: 'urn:x', valueString: 'y' }],
            },
            extension: { 'com.example': true },
          }),
        ],
        extension: { 'com.example': 1 },
      })
      .expect(200);
    // a reason the cards do not offer is kept as sent
    await request(app)
      .post(FEEDBACK)
      .send({
        feedback: [
          entry({
            overrideReason: { reason: { system: 'urn:other', code: 'busy' } },
            outcomeTimestamp: '2026-11-22T11:00:00Z',
          }),
        ],
      })
      .expect(200);
    expect(await store.report()).toEqual([
      expect.objectContaining({
        trialId: 'NCT06892145',
        overridden: 1,
        overriddenByReason: [{ reason: 'busy', count: 1 }],
      }),
    ]);
    // the feedback log line carries the request id
    expect(
      deps.logs.records.find(
        (r) => r.msg === 'feedback recorded' && r.requestId === 'feedback-req-1',
      ),
    ).toMatchObject({ serviceId: 'trial-matcher', stored: 1 });
  });

  it("matches a reason to the offered ones by system and code, taking the card's display", async () => {
    const app = createApp(makeDeps({ feedbackStore: store }));
    await request(app)
      .post(FEEDBACK)
      .send({
        feedback: [
          entry({
            overrideReason: {
              reason: { system: REASONS, code: 'already-screened', display: 'screened' },
            },
          }),
        ],
      })
      .expect(200);
    expect((await store.report())[0]?.overriddenByReason).toEqual([
      { reason: 'Already screened or referred for this trial', count: 1 },
    ]);
  });
});

describe('a 401 (issue 14)', () => {
  it('names the route on its access line, not "(unmatched)"', async () => {
    const key = await makeKey('ES384');
    const authenticator = createClientAuthenticator({
      issuers: parseTrustedIssuers([
        { iss: 'https://ehr.example.org', jwks: { keys: [key.publicJwk] } },
      ]),
      clockToleranceSec: 30,
      replayCacheSize: 100,
      jwks: { timeoutMs: 1000, maxResponseBytes: 100_000 },
    });
    const deps = makeDeps({
      authenticator,
      config: { corsOrigins: [], bodyLimit: '100kb', publicBaseUrl: 'https://cds.example.org' },
    });
    const app = createApp(deps);
    await request(app).post(CALL).send({}).expect(401);
    await request(app).post(FEEDBACK).send({}).expect(401);
    await request(app).get('/cds-services').expect(401);
    expect(deps.logs.records.filter((r) => r.msg === 'request').map((r) => r.route)).toEqual([
      '/cds-services/:id',
      '/cds-services/:id/feedback',
      '/cds-services',
    ]);
    await authenticator.close();
  });
});
