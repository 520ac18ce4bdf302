/**
 * Issue 18: a rules version (a digest of the ELM, trial definitions, value sets and site code
 * mapping) on every card and in the ledger, so a card can be traced to the rules that made it.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CARD_EXTENSION, cardExtension } from '../../src/cards/render-cards.js';
import { CdsResponseSchema } from '../../src/cards/card.js';
import type { CardLedger, IssuedCardRef } from '../../src/feedback/feedback-store.js';
import {
  DEFAULT_CQL_DIR,
  loadEligibilityEngine,
  loadEngineInputs,
} from '../../src/engine/load-engine.js';
import { startService, type RunningService } from '../support/running-service.js';

const VERSION = /^sha256:[0-9a-f]{16}$/;

describe('the rules version', () => {
  it('is the same for the same files, and changes with a trial definition or the site codes', () => {
    const base = loadEngineInputs().rulesVersion;
    expect(base).toMatch(VERSION);
    expect(loadEngineInputs().rulesVersion).toBe(base);
    expect(loadEligibilityEngine().rulesVersion).toBe(base);

    const copy = mkdtempSync(join(tmpdir(), 'rules-version-'));
    cpSync(DEFAULT_CQL_DIR, copy, { recursive: true });
    expect(loadEngineInputs({ cqlDir: copy }).rulesVersion).toBe(base);
    const file = join(copy, 'trials', 'NCT07339332.json');
    const trial = JSON.parse(readFileSync(file, 'utf8')) as { status: string };
    writeFileSync(file, JSON.stringify({ ...trial, status: 'COMPLETED' }));
    expect(loadEngineInputs({ cqlDir: copy }).rulesVersion).not.toBe(base);

    const mapped = loadEngineInputs({
      siteCodes: [
        {
          from: { system: 'urn:oid:1.2.3', code: '99' },
          to: { system: 'urn:cds-trial-matcher:code', code: 'SLEDAI-2K' },
        },
      ],
    }).rulesVersion;
    expect(mapped).toMatch(VERSION);
    expect(mapped).not.toBe(base);
  });

  describe('on every card and in the ledger', () => {
    let service: RunningService;
    const remembered: IssuedCardRef[] = [];
    const ledger: CardLedger = {
      remember: (call) => {
        remembered.push(...call.cards);
        return Promise.resolve();
      },
      lookup: () => Promise.resolve(undefined),
    };
    beforeAll(async () => {
      service = await startService(() => ({ cardLedger: ledger }));
    }, 60_000);
    afterAll(() => service.close());

    it('carries the engine rules version in the card extension, a valid CDS Hooks card', async () => {
      const res = await fetch(`${service.base}/cds-services/trial-matcher`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: randomUUID(),
          fhirServer: service.fhirBase,
          context: { userId: 'Practitioner/example', patientId: 'sle-eligible' },
        }),
      });
      expect(res.status).toBe(200);
      const { cards } = CdsResponseSchema.parse(await res.json());
      expect(cards.length).toBeGreaterThan(0);
      const version = loadEngineInputs().rulesVersion;
      for (const card of cards) {
        expect(Object.keys(card.extension ?? {})).toEqual([CARD_EXTENSION]);
        expect(cardExtension(card)).toEqual({
          trial: card.source.topic?.code,
          status: expect.stringMatching(/^(eligible|needs-review)$/) as unknown,
          rulesVersion: version,
        });
      }
      expect(remembered).toEqual(
        cards.map((card) => ({
          uuid: card.uuid,
          trialId: card.source.topic?.code,
          rulesVersion: version,
        })),
      );
    });
  });
});
