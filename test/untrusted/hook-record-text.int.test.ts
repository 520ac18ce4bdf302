/**
 * Issue 15 item 9 through POST /cds-services/trial-matcher: record text is bounded in cards (a
 * 4 MB code.text made an 8 MB answer), and cards rendered past the time budget are not issued.
 * A unit string the UCUM parser chokes on does not reach stdout (the service's JSON log).
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import type { FhirResourceJson } from '../../src/fhir/patient-data-source.js';
import { observation, sle } from '../support/fhir-builders.js';
import {
  fullPrefetch,
  makeCdsRequest,
  makeDeps,
  PATIENT_ID,
  searchset,
} from '../support/http-deps.js';

const CALL = '/cds-services/trial-matcher';

let engine: EligibilityEngine;
beforeAll(() => {
  engine = loadEligibilityEngine();
});

function sleWithText(text: string): FhirResourceJson {
  const condition = sle({ id: 'sle-long' });
  return {
    ...condition,
    subject: { reference: `Patient/${PATIENT_ID}` },
    code: { ...condition.code, text },
  };
}

interface Cards {
  cards: { detail?: string }[];
}

it('bounds record text in cards: a 4 MB code.text makes a small answer', async () => {
  const deps = makeDeps({ engine, config: { corsOrigins: [], bodyLimit: '10mb' } });
  const text = `Systemic lupus erythematosus ${'with a very long note '.repeat(200_000)}`;
  const res = await request(createApp(deps))
    .post(CALL)
    .send(
      makeCdsRequest({ prefetch: { ...fullPrefetch(), conditions: searchset(sleWithText(text)) } }),
    );
  expect(res.status).toBe(200);
  const cards = (res.body as Cards).cards;
  expect(cards.length).toBeGreaterThan(0);
  expect(res.text.length).toBeLessThan(20_000 * cards.length);
  const detail = cards.map((c) => c.detail ?? '').join('\n');
  // The record's text is shown, cut with an ellipsis.
  expect(detail).toMatch(/Systemic lupus erythematosus with a very long note[^\n]*…/);
  for (const card of cards) expect((card.detail ?? '').length).toBeLessThan(20_000);
});

it('issues no card (and remembers none) when rendering ends past the time budget', async () => {
  const remembered: unknown[] = [];
  const slow: EligibilityEngine = {
    trials: engine.trials,
    screen: async (patient, asOf, trialIds, options) => {
      const screening = await engine.screen(patient, asOf, trialIds, {
        ...(options?.stopAtIneligible === true ? { stopAtIneligible: true } : {}),
      });
      // The evaluation itself ends in time; what follows (rendering) ends past the deadline.
      const deadline = options?.deadline ?? Date.now();
      while (Date.now() <= deadline) {
        // busy: the rest of the call runs on this thread without yielding
      }
      return screening;
    },
  };
  const deps = makeDeps({
    engine: slow,
    requestBudgetMs: 1500,
    cardLedger: {
      remember: (call) => {
        remembered.push(call);
        return Promise.resolve();
      },
      lookup: () => Promise.resolve(undefined),
    },
  });
  const res = await request(createApp(deps))
    .post(CALL)
    .send(
      makeCdsRequest({
        prefetch: { ...fullPrefetch(), conditions: searchset(sleWithText('SLE')) },
      }),
    );
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ cards: [] });
  expect(remembered).toEqual([]);
});

it('writes no record text to stdout when a unit string breaks the UCUM parser', async () => {
  const deps = makeDeps({ engine, config: { corsOrigins: [], bodyLimit: '1mb' } });
  // ucum-lhc's parser throws on this one, and the library logs the unit with console.log.
  const hemoglobin = {
    ...observation('718-7', { quantity: 11, unit: 'g/dL' }, { id: 'hb-odd-unit' }),
    subject: { reference: `Patient/${PATIENT_ID}` },
    valueQuantity: { value: 11, unit: '_~B3k-()j' },
  };
  const log = jest.spyOn(console, 'log');
  try {
    const res = await request(createApp(deps))
      .post(CALL)
      .send(
        makeCdsRequest({
          prefetch: {
            ...fullPrefetch(),
            conditions: searchset(sleWithText('Systemic lupus erythematosus')),
            observations: searchset(hemoglobin as FhirResourceJson),
          },
        }),
      );
    expect(res.status).toBe(200);
    expect(log).not.toHaveBeenCalled();
    expect(deps.logs.lines.join('\n')).not.toContain('_~B3k');
  } finally {
    log.mockRestore();
  }
});
