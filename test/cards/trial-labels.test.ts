/**
 * Issue 14: every criterion a card can show has a short authored label that keeps its threshold
 * and window, never a cut sentence; every LOINC code the trials read has a short lab name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHORT_NAMED_LOINC_CODES } from '../../src/cards/lab-names.js';
import { convertUnit } from '../../src/cards/units.js';
import { loadTrials } from '../../src/trials/trial-registry.js';

const TRIALS = loadTrials(join('cql', 'trials'));
const criteria = TRIALS.flatMap((t) =>
  t.criteria.map((c) => [`${t.id} ${c.cohort ?? '*'}/${c.id}`, c] as const),
);

describe('trial criterion labels', () => {
  it.each(criteria)('%s has a label of at most 100 characters, not cut', (_id, criterion) => {
    expect(criterion.label).toBeDefined();
    expect(criterion.label?.length).toBeLessThanOrEqual(100);
    expect(criterion.label).not.toMatch(/…|\.\.\.|\.$/);
  });

  it('keeps the numbers of each criterion text that state a threshold in its label', () => {
    // "Hemoglobin at least 60 g/L" → "Hb ≥ 60 g/L": the 60 must survive the shortening.
    for (const [id, c] of criteria) {
      const thresholds = [
        ...c.text.matchAll(/(?:at least|at most|above|or above|≥|≤)\s+(\d+(?:\.\d+)?)/g),
      ];
      const inLabel = [...(c.label ?? '').matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
      for (const [, number] of thresholds)
        expect(`${id}: ${String(inLabel.includes(Number(number)))}`).toBe(`${id}: true`);
    }
  });

  it('phrases every exclusion as what a pass means and what a failure found', () => {
    for (const [id, c] of criteria.filter(([, c]) => c.kind === 'exclusion')) {
      expect(`${id}: ${c.failedLabel ?? 'no failedLabel'}`).not.toContain('no failedLabel');
      expect(c.label).not.toMatch(/^Excluded/);
    }
  });

  it('gives units a criterion shows values in that UCUM understands', () => {
    for (const [id, c] of criteria.filter(([, c]) => c.unit !== undefined)) {
      expect(`${id}: ${String(convertUnit(1, c.unit ?? '', c.unit ?? ''))}`).toBe(`${id}: 1`);
    }
  });

  it('writes caveats for a clinician, not about the project', () => {
    const caveats = JSON.stringify(TRIALS.map((t) => t.caveats));
    expect(caveats).not.toMatch(/heading present|body missing|seed text|site-mapped/);
  });
});

describe('short lab names', () => {
  it('covers every LOINC code in the value sets the trials read', () => {
    const valueSets = JSON.parse(readFileSync(join('cql', 'valuesets.json'), 'utf8')) as Record<
      string,
      { codes: { system: string; code: string }[] }
    >;
    // LOINC answer codes (LA...: "Positive", "Negative") are results, not tests a card names.
    const loinc = Object.values(valueSets).flatMap((vs) =>
      vs.codes
        .filter((c) => c.system === 'http://loinc.org' && !c.code.startsWith('LA'))
        .map((c) => c.code),
    );
    expect(loinc.filter((code) => !SHORT_NAMED_LOINC_CODES.includes(code))).toEqual([]);
  });
});
