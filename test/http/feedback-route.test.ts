import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';
import { feedbackRouter } from '../../src/http/routes/feedback.js';

const CARD = '11111111-1111-4111-8111-111111111111';
const HOOK = '99999999-9999-4999-8999-999999999999';

function appOn(store: SqliteFeedbackStore): express.Express {
  const app = express();
  app.use(feedbackRouter({ store, isKnownService: (id) => id === 'trial-matcher' }));
  return app;
}

const OVERRIDE = {
  feedback: [
    {
      card: CARD,
      outcome: 'overridden',
      overrideReason: {
        reason: {
          system: 'urn:cds-trial-matcher:override-reason',
          code: 'already-screened',
          display: 'Already screened or referred for this trial',
        },
      },
      outcomeTimestamp: '2026-11-22T10:00:00Z',
    },
  ],
};

describe('POST /cds-services/:id/feedback (router)', () => {
  let dir: string;
  let store: SqliteFeedbackStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'feedback-route-'));
    store = new SqliteFeedbackStore(join(dir, 'feedback.sqlite'));
    await store.remember({
      serviceId: 'trial-matcher',
      hookInstance: HOOK,
      cards: [{ uuid: CARD, trialId: 'NCT06892145' }],
    });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores feedback and answers 200, twice for a duplicate', async () => {
    const app = appOn(store);
    await request(app).post('/cds-services/trial-matcher/feedback').send(OVERRIDE).expect(200);
    await request(app).post('/cds-services/trial-matcher/feedback').send(OVERRIDE).expect(200);
    expect(await store.report()).toEqual([
      {
        trialId: 'NCT06892145',
        shown: 1,
        accepted: 0,
        overridden: 1,
        overriddenByReason: [{ reason: 'Already screened or referred for this trial', count: 1 }],
      },
    ]);
  });

  it.each([
    ['no feedback array', {}, 'feedback'],
    ['an empty feedback array', { feedback: [] }, 'feedback'],
    [
      'an unknown outcome',
      { feedback: [{ ...OVERRIDE.feedback[0], outcome: 'ignored' }] },
      'feedback[0].outcome',
    ],
    [
      'accepted without acceptedSuggestions',
      { feedback: [{ card: CARD, outcome: 'accepted', outcomeTimestamp: '2026-11-22T10:00:00Z' }] },
      'feedback[0].acceptedSuggestions',
    ],
    [
      'an override reason without code',
      {
        feedback: [
          {
            ...OVERRIDE.feedback[0],
            overrideReason: { reason: { system: 'urn:x', display: 'y' } },
          },
        ],
      },
      'feedback[0].overrideReason.reason.code',
    ],
    [
      'a card that is not a uuid',
      { feedback: [{ ...OVERRIDE.feedback[0], card: 'card-1' }] },
      'feedback[0].card',
    ],
    [
      'a timestamp that is not ISO 8601',
      { feedback: [{ ...OVERRIDE.feedback[0], outcomeTimestamp: 'yesterday' }] },
      'feedback[0].outcomeTimestamp',
    ],
    [
      'a missing card',
      { feedback: [{ outcome: 'overridden', outcomeTimestamp: '2026-11-22T10:00:00Z' }] },
      'feedback[0].card',
    ],
  ])('rejects %s with 400 and an OperationOutcome', async (_name, body, expression) => {
    const response = await request(appOn(store))
      .post('/cds-services/trial-matcher/feedback')
      .send(body)
      .expect(400)
      .expect('Content-Type', /json/);
    expect(response.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'invalid', expression: expect.arrayContaining([expression]) },
      ],
    });
    expect((await store.report())[0]).toMatchObject({ accepted: 0, overridden: 0 });
  });

  it('rejects a body that is not JSON with 400', async () => {
    const response = await request(appOn(store))
      .post('/cds-services/trial-matcher/feedback')
      .set('Content-Type', 'application/json')
      .send('{"feedback": [')
      .expect(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
  });

  it('answers 404 for an unknown service', async () => {
    const response = await request(appOn(store))
      .post('/cds-services/nope/feedback')
      .send(OVERRIDE)
      .expect(404);
    expect(response.body.issue[0].code).toBe('not-found');
  });
});
