/**
 * Cards and feedback end to end over HTTP (issue 4): the real engine on the demo patients, the
 * card ledger and the feedback store on a SQLite file, and a restart on the same file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { CdsResponseSchema, type Card } from '../../src/cards/card.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';
import { makeDeps, SERVICE } from '../support/http-deps.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CALL = '/cds-services/trial-matcher';
const FEEDBACK = '/cds-services/trial-matcher/feedback';

type Json = Record<string, unknown>;

/** The demo bundle as an EHR would prefetch it: one key per template, Observations by category. */
function prefetchFrom(file: string): { patientId: string; prefetch: Json } {
  const bundle = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as {
    entry: { resource: Json }[];
  };
  const resources = bundle.entry.map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient')!;
  const categoryOf = (r: Json): string[] =>
    ((r.category ?? []) as { coding?: { code?: string }[] }[]).flatMap((c) =>
      (c.coding ?? []).map((x) => x.code ?? ''),
    );
  const searchset = (items: Json[]): Json => ({
    resourceType: 'Bundle',
    type: 'searchset',
    total: items.length,
    entry: items.map((resource) => ({ resource })),
  });
  const prefetch: Json = {};
  for (const [key, template] of Object.entries(SERVICE.prefetch ?? {})) {
    if (key === 'patient') {
      prefetch[key] = patient;
      continue;
    }
    const type = template.split('?')[0]!;
    const category = /category=([a-z-]+)/.exec(template)?.[1];
    prefetch[key] = searchset(
      resources.filter(
        (r) =>
          r.resourceType === type && (category === undefined || categoryOf(r).includes(category)),
      ),
    );
  }
  return { patientId: patient.id as string, prefetch };
}

function hookCall(file: string, hookInstance: string): Json {
  const { patientId, prefetch } = prefetchFrom(file);
  return {
    hook: 'patient-view',
    hookInstance,
    context: { userId: 'Practitioner/demo-rheumatologist', patientId },
    prefetch,
  };
}

const SLE = 'demo/patients/sle-eligible.json';
const NO_LUPUS = 'demo/synthea/Angelic_Mueller_29d755a6-32fa-482e-8fdd-081300209df8.json';
const HOOK_1 = '5b7ad2a4-6c6e-4b0e-9d7c-1f0a7b8e2c11';
const HOOK_2 = '5b7ad2a4-6c6e-4b0e-9d7c-1f0a7b8e2c22';

describe('cards and feedback over HTTP', () => {
  let engine: EligibilityEngine;
  let dir: string;
  let dbPath: string;

  beforeAll(() => {
    engine = loadEligibilityEngine();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'feedback-http-'));
    dbPath = join(dir, 'feedback.sqlite');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function appOn(store: SqliteFeedbackStore) {
    return createApp(
      makeDeps({
        engine,
        // Unique across restarts, as in main (the helper's sequential ids start again at 1).
        newId: randomUUID,
        feedbackStore: store,
        cardLedger: store,
        cardOptions: { smartLink: { url: 'https://apps.example.org/trial-screening/launch' } },
      }),
    );
  }

  async function cardsFor(
    app: ReturnType<typeof appOn>,
    file: string,
    hook: string,
  ): Promise<Card[]> {
    const res = await request(app).post(CALL).send(hookCall(file, hook)).expect(200);
    return CdsResponseSchema.parse(res.body).cards;
  }

  describe('POST /cds-services/trial-matcher', () => {
    it('gives the SLE demo patient valid trial cards, each remembered by the ledger', async () => {
      const store = new SqliteFeedbackStore(dbPath);
      const cards = await cardsFor(appOn(store), SLE, HOOK_1);
      expect(cards.length).toBeGreaterThan(0);
      for (const card of cards) {
        expect(card.summary).toMatch(
          /^(Likely match|Possible match|Protocol criteria unpublished): .+ \(NCT\d{8}\), /,
        );
        expect(card.source.topic?.system).toBe('https://clinicaltrials.gov');
        expect(card.detail).not.toContain('Demo-Lupus');
        expect(card.links?.map((l) => l.type)).toEqual(['absolute', 'smart']);
        const referral = card.suggestions?.[0]?.actions?.[0]?.resource;
        expect(referral).toMatchObject({
          resourceType: 'ServiceRequest',
          status: 'draft',
          intent: 'proposal',
          subject: { reference: 'Patient/sle-eligible' },
          requester: { reference: 'Practitioner/demo-rheumatologist' },
        });
        expect(await store.lookup(card.uuid!)).toEqual({
          serviceId: 'trial-matcher',
          trialId: card.source.topic?.code,
          hookInstance: HOOK_1,
          rulesVersion: engine.rulesVersion,
        });
      }
      expect(JSON.stringify(cards)).not.toContain('Maria');
      await store.close();
    });

    it('gives a patient without lupus or systemic sclerosis no card', async () => {
      const store = new SqliteFeedbackStore(dbPath);
      expect(await cardsFor(appOn(store), NO_LUPUS, HOOK_1)).toEqual([]);
      expect(await store.report()).toEqual([]);
      await store.close();
    });
  });

  describe('POST /cds-services/trial-matcher/feedback', () => {
    it('keeps accepted and overridden feedback per trial, duplicates once, across a restart', async () => {
      // Arrange: a first service instance issues cards.
      const first = new SqliteFeedbackStore(dbPath);
      const app1 = appOn(first);
      const cards = await cardsFor(app1, SLE, HOOK_1);
      const [card] = cards;
      const suggestion = card!.suggestions![0]!.uuid!;
      const trialId = card!.source.topic!.code;
      const accepted = {
        feedback: [
          {
            card: card!.uuid,
            outcome: 'accepted',
            acceptedSuggestions: [{ id: suggestion }],
            outcomeTimestamp: '2026-11-22T10:15:00Z',
          },
        ],
      };

      // Act: feedback, sent twice (clients retry), then a restart on the same database.
      await request(app1).post(FEEDBACK).send(accepted).expect(200);
      await request(app1).post(FEEDBACK).send(accepted).expect(200);
      await first.close();

      const second = new SqliteFeedbackStore(dbPath);
      const app2 = appOn(second);
      const later = await cardsFor(app2, SLE, HOOK_2);
      const override = later.find((c) => c.source.topic?.code === trialId)!;
      await request(app2)
        .post(FEEDBACK)
        .send({
          feedback: [
            {
              card: override.uuid,
              outcome: 'overridden',
              overrideReason: {
                reason: override.overrideReasons![0],
                userComment: 'Maria prefers to wait',
              },
              outcomeTimestamp: '2026-11-23T09:00:00Z',
            },
          ],
        })
        .expect(200);

      // Assert: the earlier feedback is still there, next to the new one.
      const line = (await second.report()).find((r) => r.trialId === trialId);
      expect(line).toEqual({
        trialId,
        shown: 2,
        accepted: 1,
        overridden: 1,
        overriddenByReason: [{ reason: 'Patient declined', count: 1 }],
        rulesVersions: [engine.rulesVersion],
      });
      expect(JSON.stringify(await second.report())).not.toContain('Maria');
      await second.close();
    });

    it('answers 400 with an OperationOutcome for malformed feedback and for invalid JSON', async () => {
      const store = new SqliteFeedbackStore(dbPath);
      const app = appOn(store);
      const bad = await request(app)
        .post(FEEDBACK)
        .send({ feedback: [{ card: 'x', outcome: 'accepted', outcomeTimestamp: 'now' }] })
        .expect(400);
      expect(bad.body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid' }],
      });
      expect(bad.body.issue[0].expression).toEqual(
        expect.arrayContaining(['feedback[0].outcomeTimestamp', 'feedback[0].acceptedSuggestions']),
      );
      const notJson = await request(app)
        .post(FEEDBACK)
        .set('Content-Type', 'application/json')
        .send('{"feedback":')
        .expect(400);
      expect(notJson.body.resourceType).toBe('OperationOutcome');
      expect(await store.report()).toEqual([]);
      await store.close();
    });

    it('answers 404 for feedback to an unknown service', async () => {
      const store = new SqliteFeedbackStore(dbPath);
      const res = await request(appOn(store))
        .post('/cds-services/no-such-service/feedback')
        .send({ feedback: [] })
        .expect(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
      await store.close();
    });
  });
});
