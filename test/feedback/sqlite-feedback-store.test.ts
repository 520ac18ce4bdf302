import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';
import type { FeedbackEntry } from '../../src/feedback/feedback-request.js';

const CARD_A = '11111111-1111-4111-8111-111111111111';
const CARD_B = '22222222-2222-4222-8222-222222222222';
const CARD_C = '33333333-3333-4333-8333-333333333333';
const HOOK = '99999999-9999-4999-8999-999999999999';
const DECLINED = {
  system: 'urn:cds-trial-matcher:override-reason',
  code: 'patient-declined',
  display: 'Patient declined',
};

function accepted(card: string, at = '2026-11-22T10:00:00Z'): FeedbackEntry {
  return {
    card,
    outcome: 'accepted',
    acceptedSuggestions: [{ id: 'sugg-1' }],
    outcomeTimestamp: at,
  };
}

function overridden(card: string, at = '2026-11-22T10:00:00Z'): FeedbackEntry {
  return {
    card,
    outcome: 'overridden',
    overrideReason: { reason: DECLINED, userComment: 'free text never stored' },
    outcomeTimestamp: at,
  };
}

describe('SqliteFeedbackStore', () => {
  let dir: string;
  let clock: Date;
  const open = (): SqliteFeedbackStore =>
    new SqliteFeedbackStore(join(dir, 'nested', 'feedback.sqlite'), {
      now: () => clock,
      cardTtlDays: 30,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'feedback-store-'));
    clock = new Date('2026-11-22T09:00:00Z');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('remember and lookup', () => {
    it('remembers the trial and hook call of each issued card until it expires', () => {
      const store = open();
      store.remember({
        serviceId: 'trial-matcher',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      expect(store.lookup(CARD_A)).toEqual({
        serviceId: 'trial-matcher',
        trialId: 'NCT06892145',
        hookInstance: HOOK,
      });
      clock = new Date('2026-12-23T09:00:00Z');
      expect(store.lookup(CARD_A)).toBeUndefined();
      store.close();
    });
  });

  describe('record', () => {
    it('stores feedback with the trial of the card and ignores duplicates', () => {
      const store = open();
      store.remember({
        serviceId: 'trial-matcher',
        hookInstance: HOOK,
        cards: [
          { uuid: CARD_A, trialId: 'NCT06892145' },
          { uuid: CARD_B, trialId: 'NCT07339332' },
        ],
      });
      expect(store.record('trial-matcher', [accepted(CARD_A), overridden(CARD_B)])).toEqual({
        stored: 2,
        duplicates: 0,
        unknownCards: 0,
      });
      expect(store.record('trial-matcher', [accepted(CARD_A)])).toEqual({
        stored: 0,
        duplicates: 1,
        unknownCards: 0,
      });
      expect(store.record('trial-matcher', [overridden(CARD_C)])).toEqual({
        stored: 1,
        duplicates: 0,
        unknownCards: 1,
      });
      expect(store.report()).toEqual([
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
      store.close();
    });

    it('counts the latest outcome of a card once', () => {
      const store = open();
      store.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      store.record('s', [
        overridden(CARD_A, '2026-11-22T10:00:00Z'),
        accepted(CARD_A, '2026-11-22T11:00:00+01:00'),
        accepted(CARD_A, '2026-11-23T08:00:00Z'),
      ]);
      expect(store.report()[0]).toMatchObject({ accepted: 1, overridden: 0 });
      store.close();
    });

    it('never stores the free-text comment', () => {
      const store = open();
      store.record('s', [overridden(CARD_A)]);
      store.close();
      const raw = new Database(join(dir, 'nested', 'feedback.sqlite'), { readonly: true });
      const rows = raw.prepare('SELECT * FROM feedback').all();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain('free text');
      expect(rows[0]).toMatchObject({ has_comment: 1, reason_code: 'patient-declined' });
      raw.close();
    });
  });

  describe('durability', () => {
    it('keeps ledger, shown counts and feedback across a reopen, and counts shown cards after expiry', () => {
      const first = open();
      first.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_A, trialId: 'NCT06892145' }],
      });
      first.record('s', [accepted(CARD_A)]);
      first.close();

      clock = new Date('2027-03-01T00:00:00Z');
      const second = open();
      second.remember({
        serviceId: 's',
        hookInstance: HOOK,
        cards: [{ uuid: CARD_B, trialId: 'NCT06892145' }],
      });
      expect(second.lookup(CARD_A)).toBeUndefined();
      expect(second.report({ serviceId: 's' })).toEqual([
        { trialId: 'NCT06892145', shown: 2, accepted: 1, overridden: 0, overriddenByReason: [] },
      ]);
      expect(second.report({ serviceId: 'other' })).toEqual([]);
      second.close();
    });
  });
});
