import { CardSchema, CdsResponseSchema } from '../../src/cards/card.js';

const VALID = {
  uuid: '00000000-0000-4000-8000-000000000001',
  summary:
    'Possible match: CD19 CAR-T trial for refractory SLE (NCT06892145), 3 criteria to confirm',
  indicator: 'info',
  source: { label: 'NCT06892145 · Sponsor' },
};

describe('CardSchema', () => {
  it('accepts a minimal card', () => {
    expect(CardSchema.safeParse(VALID).success).toBe(true);
  });

  it.each([
    ['a summary of 140 characters', { summary: 'x'.repeat(140) }],
    ['a summary of two sentences', { summary: 'A match. Three criteria to confirm' }],
    ['a summary on two lines', { summary: 'A match\nthree to confirm' }],
    ['an unknown indicator', { indicator: 'hard-stop' }],
    ['a null optional attribute', { detail: null }],
    ['an empty optional string', { detail: '' }],
    ['an empty optional array', { links: [] }],
    ['a uuid that is not a UUID', { uuid: 'card-1' }],
    ['an unknown attribute', { priority: 1 }],
    ['suggestions without selectionBehavior', { suggestions: [{ label: 'Refer' }] }],
    ['selectionBehavior without suggestions', { selectionBehavior: 'any' }],
    [
      'an unknown selectionBehavior',
      { suggestions: [{ label: 'Refer' }], selectionBehavior: 'all' },
    ],
    ['an override reason without display', { overrideReasons: [{ system: 'urn:x', code: 'y' }] }],
    ['a link of unknown type', { links: [{ label: 'x', url: 'https://x.org', type: 'relative' }] }],
    [
      'appContext on an absolute link',
      { links: [{ label: 'x', url: 'https://x.org', type: 'absolute', appContext: 'a' }] },
    ],
    [
      'a create action without a resource',
      {
        suggestions: [{ label: 'Refer', actions: [{ type: 'create', description: 'Refer' }] }],
        selectionBehavior: 'any',
      },
    ],
    [
      'a topic without code',
      { source: { label: 'x', topic: { system: 'https://clinicaltrials.gov' } } },
    ],
  ])('rejects %s', (_name, change) => {
    expect(CardSchema.safeParse({ ...VALID, ...change }).success).toBe(false);
  });
});

describe('CdsResponseSchema', () => {
  it('accepts no guidance as an empty cards array', () => {
    expect(CdsResponseSchema.safeParse({ cards: [] }).success).toBe(true);
  });

  it('rejects a response without cards and duplicate card uuids', () => {
    expect(CdsResponseSchema.safeParse({}).success).toBe(false);
    expect(CdsResponseSchema.safeParse({ cards: [VALID, VALID] }).success).toBe(false);
  });
});
