/**
 * Issue 18: GET /metrics (Prometheus text, prom-client, one registry per app) and GET /readyz
 * (503 until the engine pool, trials and feedback store are ready; /healthz stays liveness).
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import type { ScreeningEngine } from '../../src/cds-hooks/patient-view.js';
import { loadConfig } from '../../src/config.js';
import {
  EngineDeadlineError,
  EngineOverloadedError,
  StoreUnavailableError,
} from '../../src/shared/errors.js';
import { createEnginePool } from '../../src/engine/engine-pool.js';
import type { FeedbackRecordResult, FeedbackStore } from '../../src/feedback/feedback-store.js';
import { createMetrics } from '../../src/http/metrics.js';
import type { ClientAuthenticator } from '../../src/security/client-auth.js';
import { startService } from '../../src/service.js';
import { LogCapture, makeCdsRequest, makeDeps } from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';

/** One sample of the exposition text, e.g. `cds_cards_total{status="eligible",trial="X"}`. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

const rejecting = (error: Error): ScreeningEngine => ({
  trials: [],
  screen: () => Promise.reject(error),
});

describe('GET /metrics', () => {
  it('serves the Prometheus text format with the process defaults', async () => {
    const app = createApp(makeDeps({ metrics: createMetrics() }));
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(res.text, 'process_cpu_user_seconds_total')).toEqual(expect.any(Number));
    expect(sample(res.text, 'nodejs_heap_size_used_bytes')).toEqual(expect.any(Number));
    expect(sample(res.text, 'cds_engine_queue_depth')).toBe(0);
    // Alertable from the start: the given-up answers exist at 0.
    expect(sample(res.text, 'cds_hook_answers_given_up_total', { reason: 'budget-exceeded' })).toBe(
      0,
    );
    expect(sample(res.text, 'cds_hook_answers_given_up_total', { reason: 'overloaded' })).toBe(0);
  });

  it('is absent without metrics, and two apps keep separate counts', async () => {
    await request(createApp(makeDeps())).get('/metrics').expect(404);
    const one = createMetrics({ processDefaults: false });
    const two = createMetrics({ processDefaults: false });
    await request(
      createApp(makeDeps({ engine: rejecting(new EngineOverloadedError('full')), metrics: one })),
    )
      .post(CALL)
      .send(makeCdsRequest())
      .expect(200);
    const a = await request(createApp(makeDeps({ metrics: one }))).get('/metrics');
    const b = await request(createApp(makeDeps({ metrics: two }))).get('/metrics');
    expect(sample(a.text, 'cds_hook_answers_given_up_total', { reason: 'overloaded' })).toBe(1);
    expect(sample(b.text, 'cds_hook_answers_given_up_total', { reason: 'overloaded' })).toBe(0);
  });

  it('counts a call answered no cards on the time budget, by outcome and status', async () => {
    const metrics = createMetrics({ processDefaults: false });
    const app = createApp(
      makeDeps({ engine: rejecting(new EngineDeadlineError('deadline passed')), metrics }),
    );
    const res = await request(app).post(CALL).send(makeCdsRequest()).expect(200);
    expect(res.body).toEqual({ cards: [] });
    const text = (await request(app).get('/metrics')).text;
    expect(sample(text, 'cds_hook_answers_given_up_total', { reason: 'budget-exceeded' })).toBe(1);
    expect(
      sample(text, 'cds_hook_calls_total', { outcome: 'budget-exceeded', status: '200' }),
    ).toBe(1);
    expect(
      sample(text, 'cds_hook_call_duration_seconds_count', { outcome: 'budget-exceeded' }),
    ).toBe(1);
  });

  it('counts refused hook calls by status, and JWT failures by reason', async () => {
    const metrics = createMetrics({ processDefaults: false });
    const authenticator: ClientAuthenticator = {
      authenticate: (header) =>
        Promise.resolve(
          header === undefined
            ? { ok: false, reason: 'missing' }
            : { ok: false, reason: 'expired', iss: 'https://ehr.example.org' },
        ),
      close: () => Promise.resolve(),
    };
    const app = createApp(
      makeDeps({ metrics, authenticator, config: { corsOrigins: [], bodyLimit: '100kb' } }),
    );
    await request(app).post(CALL).send(makeCdsRequest()).expect(401);
    await request(app).post(CALL).set('Authorization', 'Bearer a.b.c').send({}).expect(401);
    await request(createApp(makeDeps({ metrics })))
      .post(CALL)
      .send({ hook: 'x' })
      .expect(400);
    const text = (await request(app).get('/metrics')).text;
    expect(sample(text, 'cds_jwt_failures_total', { reason: 'missing' })).toBe(1);
    expect(sample(text, 'cds_jwt_failures_total', { reason: 'expired' })).toBe(1);
    expect(sample(text, 'cds_hook_calls_total', { outcome: 'unauthorized', status: '401' })).toBe(
      2,
    );
    expect(sample(text, 'cds_hook_calls_total', { outcome: 'invalid', status: '400' })).toBe(1);
  });

  it('counts feedback by outcome: recorded, invalid, unavailable, and shed past the waiting bound', async () => {
    const metrics = createMetrics({ processDefaults: false });
    let mode: 'ok' | 'down' = 'ok';
    const store: FeedbackStore = {
      record: (): Promise<FeedbackRecordResult> =>
        mode === 'down'
          ? Promise.reject(new StoreUnavailableError('the database is away'))
          : Promise.resolve({ stored: 1, duplicates: 0, unknownCards: 1 }),
      report: () => Promise.resolve([]),
      close: () => Promise.resolve(),
    };
    const app = createApp(makeDeps({ metrics, feedbackStore: store }));
    const body = {
      feedback: [
        {
          card: randomUUID(),
          outcome: 'accepted',
          acceptedSuggestions: [{ id: 'refer' }],
          outcomeTimestamp: '2026-11-22T10:00:00Z',
        },
      ],
    };
    const FEEDBACK = `${CALL}/feedback`;
    await request(app).post(FEEDBACK).send(body).expect(200);
    await request(app).post(FEEDBACK).send({ feedback: 'no' }).expect(400);
    mode = 'down';
    await request(app).post(FEEDBACK).send(body).expect(503);
    // A flood: past the waiting bound (here none may wait) a body is shed with 503.
    mode = 'ok';
    const flooded = createApp(makeDeps({ metrics, feedbackStore: store, feedbackMaxPending: 0 }));
    const shed = await request(flooded).post(FEEDBACK).send(body).expect(503);
    expect(shed.headers['retry-after']).toBe('1');
    const text = (await request(app).get('/metrics')).text;
    expect(sample(text, 'cds_feedback_requests_total', { outcome: 'recorded' })).toBe(1);
    expect(sample(text, 'cds_feedback_requests_total', { outcome: 'invalid' })).toBe(1);
    expect(sample(text, 'cds_feedback_requests_total', { outcome: 'unavailable' })).toBe(1);
    expect(sample(text, 'cds_feedback_requests_total', { outcome: 'shed' })).toBe(1);
    expect(sample(text, 'cds_feedback_entries_total', { result: 'stored' })).toBe(1);
    expect(sample(text, 'cds_feedback_entries_total', { result: 'unknown-card' })).toBe(1);
  });
});

describe('the running service: /readyz, cards, FHIR reads and the engine queue', () => {
  it('is live and not ready (503) until the engine pool is up, then ready (200)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      ENGINE_WORKERS: '1',
      FEEDBACK_DB_PATH: ':memory:',
      LOG_LEVEL: 'silent',
    });
    const service = await startService(config, new LogCapture('silent').logger, {
      createEnginePool: async (options) => {
        await gate;
        return createEnginePool(options);
      },
    });
    const base = `http://127.0.0.1:${service.port}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const starting = await fetch(`${base}/readyz`);
      expect(starting.status).toBe(503);
      expect(await starting.json()).toEqual({ status: 'starting' });
      const early = await fetch(`${base}${CALL}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(makeCdsRequest()),
      });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('5');
      expect((await fetch(`${base}/metrics`)).status).toBe(200);

      release();
      await service.ready;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        checks: { trials: 'ok', engine: 'ok', store: 'ok' },
      });

      // A real call through the embedded FHIR server: cards by trial and status, FHIR reads.
      const res = await fetch(`${base}${CALL}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: randomUUID(),
          fhirServer: `http://127.0.0.1:${service.port}/demo/fhir`,
          context: { userId: 'Practitioner/example', patientId: 'sle-eligible' },
        }),
      });
      expect(res.status).toBe(200);
      const { cards } = (await res.json()) as { cards: unknown[] };
      expect(cards.length).toBeGreaterThan(0);
      const text = await (await fetch(`${base}/metrics`)).text();
      const cardCount = [
        ...text.matchAll(/^cds_cards_total\{[^}]*trial="NCT07339332"[^}]*\} (\d+)$/gm),
      ];
      expect(cardCount.map((m) => Number(m[1]))).toEqual([1]);
      expect(sample(text, 'cds_hook_calls_total', { outcome: 'cards', status: '200' })).toBe(1);
      expect(sample(text, 'cds_fhir_reads_total', { status_class: '2xx' })).toBeGreaterThan(0);
      expect(
        sample(text, 'cds_fhir_read_duration_seconds_count', { status_class: '2xx' }),
      ).toBeGreaterThan(0);
      expect(sample(text, 'cds_engine_workers')).toBe(1);
      expect(sample(text, 'cds_engine_queue_depth')).toBe(0);
    } finally {
      release();
      await service.close();
    }
  }, 60_000);

  it('is not ready while the feedback store does not answer', async () => {
    const store: FeedbackStore = {
      record: () => Promise.reject(new Error('unused')),
      report: () => Promise.resolve([]),
      close: () => Promise.resolve(),
      ping: () => Promise.reject(new StoreUnavailableError('the database is away')),
    };
    const res = await request(createApp(makeDeps({ feedbackStore: store }))).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: 'not-ready',
      checks: { trials: 'failed', engine: 'ok', store: 'failed' },
    });
  });
});
