/**
 * The contract every feedback store and card ledger keeps (issue 17): SQLite and PostgreSQL run
 * the same suite. Not a test file itself: sqlite-feedback-store.test.ts and
 * postgres-feedback-store.test.ts call it.
 */
import type { FeedbackEntry } from '../../src/feedback/feedback-request.js';
import type { CardLedger, FeedbackStore } from '../../src/feedback/feedback-store.js';

export const CARD_A = '11111111-1111-4111-8111-111111111111';
export const CARD_B = '22222222-2222-4222-8222-222222222222';
export const CARD_C = '33333333-3333-4333-8333-333333333333';
export const HOOK = '99999999-9999-4999-8999-999999999999';
export const DECLINED = {
  system: 'urn:cds-trial-matcher:override-reason',
  code: 'patient-declined',
  display: 'Patient declined',
};
const NOT_ELIGIBLE = {
  system: 'urn:cds-trial-matcher:override-reason',
  code: 'not-eligible',
  display: 'Not eligible',
};

export function accepted(
  card: string,
  at = '2026-11-22T10:00:00Z',
  ids = ['sugg-1'],
): FeedbackEntry {
  return {
    card,
    outcome: 'accepted',
    acceptedSuggestions: ids.map((id) => ({ id })),
    outcomeTimestamp: at,
  };
}

export function overridden(
  card: string,
  at = '2026-11-22T10:00:00Z',
  reason: typeof DECLINED | null = DECLINED,
): FeedbackEntry {
  return {
    card,
    outcome: 'overridden',
    overrideReason:
      reason === null
        ? { userComment: 'free text never stored' }
        : { reason, userComment: 'free text never stored' },
    outcomeTimestamp: at,
  };
}

export type Store = FeedbackStore & CardLedger;

export interface StoreHarness {
  /** An empty database for the next test. */
  fresh(): Promise<void>;
  /** A store on the current database; another call is another process opening it. */
  open(options: { now: () => Date; cardTtlDays: number }): Promise<Store>;
  /** The feedback rows as stored, every column. */
  feedbackRows(): Promise<Record<string, unknown>[]>;
}

/**
 * @param name - the store's name.
 * @param harness - how to open it.
 */
export function feedbackStoreContract(name: string, harness: () => StoreHarness): void {
  describe(`${name}: the feedback store contract`, () => {
    let clock: Date;
    let h: StoreHarness;
    const opened: Store[] = [];
    const open = async (): Promise<Store> => {
      const store = await h.open({ now: () => clock, cardTtlDays: 30 });
      opened.push(store);
      return store;
    };

    beforeEach(async () => {
      h = harness();
      await h.fresh();
      clock = new Date('2026-11-22T09:00:00Z');
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('remembers the trial and hook call of each issued card until it expires', async () => {
      const store = await open();
      await store.remember({
        serviceId: 'trial-matcher',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      expect(await store.lookup(CARD_A)).toEqual({
        serviceId: 'trial-matcher',
        trialId: 'NCT06892145',
        hookInstance: HOOK,
      });
      clock = new Date('2026-12-23T09:00:00Z');
      expect(await store.lookup(CARD_A)).toBeUndefined();
    });

    it('keeps the rules version of each card with the card and its feedback (issue 18)', async () => {
      const store = await open();
      await store.remember({
        serviceId: 'trial-matcher',
        hookInstance: HOOK,
        cards: [
          { uuid: CARD_A, trialId: 'NCT06892145', rulesVersion: 'sha256:aaaaaaaaaaaaaaaa' },
          { uuid: CARD_B, trialId: 'NCT06892145', rulesVersion: 'sha256:bbbbbbbbbbbbbbbb' },
          { uuid: CARD_C, trialId: 'NCT07339332' },
        ],
      });
      expect(await store.lookup(CARD_A)).toEqual({
        serviceId: 'trial-matcher',
        trialId: 'NCT06892145',
        hookInstance: HOOK,
        rulesVersion: 'sha256:aaaaaaaaaaaaaaaa',
      });
      await store.record('trial-matcher', [accepted(CARD_A), overridden(CARD_B), accepted(CARD_C)]);
      const versions = (await h.feedbackRows()).map((r) => r.rules_version);
      expect(versions).toHaveLength(3);
      expect(versions).toEqual(
        expect.arrayContaining(['sha256:aaaaaaaaaaaaaaaa', 'sha256:bbbbbbbbbbbbbbbb', null]),
      );
      const report = await store.report();
      expect(report.find((r) => r.trialId === 'NCT06892145')?.rulesVersions).toEqual([
        'sha256:aaaaaaaaaaaaaaaa',
        'sha256:bbbbbbbbbbbbbbbb',
      ]);
      expect(report.find((r) => r.trialId === 'NCT07339332')).not.toHaveProperty('rulesVersions');
    });

    it('answers a readiness ping (issue 18)', async () => {
      const store = await open();
      await expect(store.ping?.()).resolves.toBeUndefined();
    });

    it('stores feedback with the trial of the card and ignores duplicates', async () => {
      const store = await open();
      await store.remember({
        serviceId: 'trial-matcher',
        hookInstance: HOOK,
        cards: [
          { uuid: CARD_A, trialId: 'NCT06892145' },
          { uuid: CARD_B, trialId: 'NCT07339332' },
        ],
      });
      expect(await store.record('trial-matcher', [accepted(CARD_A), overridden(CARD_B)])).toEqual({
        stored: 2,
        duplicates: 0,
        unknownCards: 0,
      });
      expect(await store.record('trial-matcher', [accepted(CARD_A)])).toEqual({
        stored: 0,
        duplicates: 1,
        unknownCards: 0,
      });
      expect(await store.record('trial-matcher', [overridden(CARD_C)])).toEqual({
        stored: 1,
        duplicates: 0,
        unknownCards: 1,
      });
      expect(await store.report()).toEqual([
        { trialId: 'NCT06892145', shown: 1, accepted: 1, overridden: 0, overriddenByReason: [] },
        {
          trialId: 'NCT07339332',
          shown: 1,
          accepted: 0,
          overridden: 1,
          overriddenByReason: [{ reason: 'Patient declined', count: 1 }],
        },
        {
          trialId: null,
          shown: 0,
          accepted: 0,
          overridden: 1,
          overriddenByReason: [{ reason: 'Patient declined', count: 1 }],
        },
      ]);
    });

    // Issue 14: accepting the same suggestion twice stored two rows (the timestamp was part of the key).
    it('stores one decision once whatever its timestamps, and tells different decisions apart', async () => {
      const store = await open();
      await store.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      expect(
        await store.record('s', [
          accepted(CARD_A, '2026-11-22T10:00:00Z', ['sugg-1', 'sugg-2']),
          accepted(CARD_A, '2026-11-22T10:00:03Z', ['sugg-2', 'sugg-1']),
        ]),
      ).toEqual({ stored: 1, duplicates: 1, unknownCards: 0 });
      expect(
        await store.record('s', [accepted(CARD_A, '2026-11-22T10:05:00Z', ['sugg-1', 'sugg-2'])]),
      ).toEqual({
        stored: 0,
        duplicates: 1,
        unknownCards: 0,
      });
      // Another suggestion, another reason, no reason: other decisions.
      expect(
        await store.record('s', [
          accepted(CARD_A, '2026-11-22T10:06:00Z', ['sugg-3']),
          overridden(CARD_A, '2026-11-22T10:07:00Z', DECLINED),
          overridden(CARD_A, '2026-11-22T10:08:00Z', NOT_ELIGIBLE),
          overridden(CARD_A, '2026-11-22T10:09:00Z', null),
          overridden(CARD_A, '2026-11-22T10:10:00Z', null),
          overridden(CARD_A, '2026-11-22T10:11:00Z', DECLINED),
        ]),
      ).toEqual({ stored: 4, duplicates: 2, unknownCards: 0 });
      expect(await h.feedbackRows()).toHaveLength(5);
      // The latest decision counts, a repeated one included: declined again at 10:11.
      expect((await store.report())[0]).toMatchObject({
        accepted: 0,
        overridden: 1,
        overriddenByReason: [{ reason: 'Patient declined', count: 1 }],
      });
    });

    it('counts the latest outcome of a card once', async () => {
      const store = await open();
      await store.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      await store.record('s', [
        overridden(CARD_A, '2026-11-22T10:00:00Z'),
        accepted(CARD_A, '2026-11-22T11:00:00+01:00'),
        accepted(CARD_A, '2026-11-23T08:00:00Z'),
      ]);
      expect((await store.report())[0]).toMatchObject({ accepted: 1, overridden: 0 });
    });

    it('never stores the free-text comment', async () => {
      const store = await open();
      await store.record('s', [overridden(CARD_A)]);
      const rows = await h.feedbackRows();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain('free text');
      expect(rows[0]).toMatchObject({ reason_code: 'patient-declined' });
      expect(Boolean(rows[0]?.has_comment)).toBe(true);
    });

    it('shares ledger, shown counts and feedback with another opening, and counts shown cards after expiry', async () => {
      const first = await open();
      await first.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      await first.record('s', [accepted(CARD_A)]);
      await first.close();

      const second = await open();
      expect(await second.lookup(CARD_A)).toMatchObject({ trialId: 'NCT06892145' });
      clock = new Date('2027-03-01T00:00:00Z');
      await second.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_B, trialId: 'NCT06892145' }],
      });
      expect(await second.lookup(CARD_A)).toBeUndefined();
      expect(await second.report({ serviceId: 's' })).toEqual([
        { trialId: 'NCT06892145', shown: 2, accepted: 1, overridden: 0, overriddenByReason: [] },
      ]);
      expect(await second.report({ serviceId: 'other' })).toEqual([]);
    });

    it('stores a decision sent to two openings at once once', async () => {
      const one = await open();
      const two = await open();
      await one.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      const results = await Promise.all([
        one.record('s', [accepted(CARD_A, '2026-11-22T10:00:00Z')]),
        two.record('s', [accepted(CARD_A, '2026-11-22T10:00:01Z')]),
      ]);
      expect(results.map((r) => r.stored).sort()).toEqual([0, 1]);
      expect(await h.feedbackRows()).toHaveLength(1);
      expect((await two.report())[0]).toMatchObject({ trialId: 'NCT06892145', accepted: 1 });
    });
  });
}
