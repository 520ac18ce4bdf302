/** Issue 15 item 9: the bounds on record text in cards, per item, per line and per card. */
import {
  boundedDetail,
  CARD_DETAIL_MAX_CHARS,
  describeEvidence,
  indexResources,
  recordText,
} from '../../src/cards/describe-evidence.js';
import { bundle, observation } from '../support/fhir-builders.js';

describe('recordText', () => {
  it('keeps short text, escaped', () => {
    expect(recordText('C-reactive *protein*')).toBe('C-reactive \\*protein\\*');
  });

  it('cuts long text to 80 characters with an ellipsis, never inside a surrogate pair', () => {
    const text = recordText('😀'.repeat(1_000_000));
    expect(Array.from(text)).toHaveLength(80);
    expect(text.endsWith('…')).toBe(true);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('marks text cut even when what is kept is short once spaces are collapsed', () => {
    expect(recordText(`lupus${' '.repeat(10_000)}nephritis`)).toBe('lupus…');
  });
});

describe('describeEvidence', () => {
  it('bounds each line, whatever the record holds', () => {
    const base = observation('718-7', undefined, { id: 'o1' });
    const withName = {
      ...base,
      valueString: 'x'.repeat(100_000),
      code: { ...base.code, text: 'y'.repeat(100_000) },
    };
    const [line] = describeEvidence(['Observation/o1'], indexResources(bundle(withName)));
    expect(line?.length).toBeLessThanOrEqual(200);
  });
});

describe('boundedDetail', () => {
  it('keeps whole lines up to the card limit and says how many were left out', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `- line ${i} ${'z'.repeat(100)}`);
    const detail = boundedDetail(lines);
    expect(detail.length).toBeLessThanOrEqual(CARD_DETAIL_MAX_CHARS);
    expect(detail).toMatch(/_\d+ more lines left out: see the record\._$/);
    expect(
      detail.split('\n').every((l) => l === '' || l.startsWith('- line') || l.startsWith('_')),
    ).toBe(true);
  });

  it('leaves a short detail as it is', () => {
    expect(boundedDetail(['a', '', 'b'])).toBe('a\n\nb');
  });
});
