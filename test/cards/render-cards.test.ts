import { CardSchema, CdsResponseSchema, type Card } from '../../src/cards/card.js';
import { issuedCards, renderCards, shareOfComputablePassed } from '../../src/cards/render-cards.js';
import type { PatientScreening, TrialResult } from '../../src/domain/screening.js';
import { TrialSchema, type Trial } from '../../src/domain/trial.js';
import {
  bundle,
  condition,
  daysAgo,
  medicationRequest,
  observation,
  patient,
  sle,
} from '../support/fhir-builders.js';

const PATIENT = patient({ id: 'pat-1' });
const SLE = sle({ id: 'sle-1', onset: '2022-03-01' });
const HB = observation('718-7', { quantity: 112, unit: 'g/L' }, { id: 'hb-1', date: daysAgo(3) });
const OLD_LVEF = observation(
  '10230-1',
  { quantity: 58, unit: '%' },
  { id: 'lvef-1', date: daysAgo(200) },
);
const PRED = medicationRequest(
  { rxnorm: '312617', text: 'prednisone 5 MG Oral Tablet' },
  { id: 'pred-1', start: daysAgo(300), dose: { value: 10, unit: 'mg' } },
);
const SSC = condition(
  { code: '89155008', display: 'Systemic sclerosis' },
  { id: 'ssc-1', onset: '2021-05-05' },
);
const BUNDLE = bundle(PATIENT, SLE, HB, OLD_LVEF, PRED, SSC);

function makeTrial(overrides: Record<string, unknown> = {}): Trial {
  return TrialSchema.parse({
    id: 'NCT06892145',
    title: 'Phase I Clinical Trial of CD19-targeting CAR-T (MC-1-50) for Refractory Adult SLE',
    shortTitle: 'CD19 CAR-T trial for refractory SLE',
    product: 'MC-1-50',
    sponsor: 'Chongqing Precision Biotech Co., Ltd',
    phase: 'Phase 1',
    status: 'RECRUITING',
    sites: [
      {
        facility: 'The Second Affiliated Hospital of Zhejiang University',
        city: 'Hangzhou',
        country: 'China',
        status: 'RECRUITING',
      },
    ],
    contacts: [{ name: 'Jing Pan', phone: '+86 10 0000 0000', email: 'trial@example.org' }],
    library: { name: 'NCT06892145', version: '1.0.0' },
    cohorts: [
      {
        id: 'sle',
        title: 'Refractory SLE',
        reason: { code: '55464009', display: 'Systemic lupus erythematosus' },
      },
    ],
    criteria: [
      { id: 'consent', kind: 'inclusion', text: 'Signs the informed consent form.' },
      {
        id: 'sle',
        kind: 'inclusion',
        text: 'SLE for at least 6 months.',
        define: 'Sle',
        resolve: 'Record the SLE onset date.',
      },
      {
        id: 'hemoglobin',
        kind: 'inclusion',
        text: 'Hemoglobin at least 60 g/L.',
        define: 'Hb',
        resolve: 'Complete blood count.',
      },
      {
        id: 'lvef',
        kind: 'inclusion',
        text: 'LVEF at least 50% by echocardiography within 8 weeks before screening.',
        define: 'Lvef',
        resolve: 'Echocardiogram within 8 weeks.',
      },
      {
        id: 'steroid',
        kind: 'inclusion',
        text: 'Stable glucocorticoid dose.',
        define: 'Steroid',
        resolve: 'Record the current glucocorticoid dose.',
      },
    ],
    ...overrides,
  });
}

const MULTI = makeTrial({
  id: 'NCT06822881',
  shortTitle: 'CT1190B CAR-T for refractory SLE or SSc',
  sponsor: 'Beijing GoBroad Hospital',
  sites: [],
  contacts: [],
  cohorts: [
    {
      id: 'sle',
      title: 'Refractory SLE',
      reason: { code: '55464009', display: 'Systemic lupus erythematosus' },
    },
    {
      id: 'ssc',
      title: 'Refractory/progressive SSc',
      reason: { code: '89155008', display: 'Systemic sclerosis' },
    },
  ],
  criteria: [
    { id: 'consent', kind: 'inclusion', text: 'Signs the informed consent form.' },
    { id: 'dx', kind: 'inclusion', cohort: 'sle', text: 'Refractory SLE.', define: 'SleDx' },
    { id: 'dx', kind: 'inclusion', cohort: 'ssc', text: 'Progressive SSc.', define: 'SscDx' },
    {
      id: 'fvc',
      kind: 'exclusion',
      cohort: 'ssc',
      text: 'FVC above 30% predicted.',
      define: 'Fvc',
      resolve: 'Pulmonary function tests.',
    },
  ],
});

const NOT_RECRUITING = makeTrial({
  id: 'NCT06513429',
  shortTitle: 'IM19 CAR-T for refractory SLE',
  status: 'COMPLETED',
});

const INELIGIBLE = makeTrial({ id: 'NCT06349343', shortTitle: 'CD19/BCMA CAR-T for SLE' });

const NEEDS_REVIEW: TrialResult = {
  id: 'NCT06892145',
  title: 'MC-1-50',
  status: 'needs-review',
  criteria: [
    {
      id: 'consent',
      kind: 'inclusion',
      text: 'Signs the informed consent form.',
      result: 'manual',
      evidence: [],
    },
    {
      id: 'sle',
      kind: 'inclusion',
      text: 'SLE for at least 6 months.',
      result: 'pass',
      evidence: ['Condition/sle-1', 'Patient/pat-1'],
    },
    {
      id: 'hemoglobin',
      kind: 'inclusion',
      text: 'Hemoglobin at least 60 g/L.',
      result: 'pass',
      evidence: ['Observation/hb-1'],
    },
    {
      id: 'lvef',
      kind: 'inclusion',
      text: 'LVEF at least 50% by echocardiography within 8 weeks before screening.',
      result: 'unknown',
      evidence: ['Observation/lvef-1'],
    },
    {
      id: 'steroid',
      kind: 'inclusion',
      text: 'Stable glucocorticoid dose.',
      result: 'unknown',
      evidence: [],
    },
  ],
};

const MULTI_ELIGIBLE: TrialResult = {
  id: 'NCT06822881',
  title: 'CT1190B',
  status: 'eligible',
  cohorts: ['sle'],
  criteria: [
    {
      id: 'consent',
      kind: 'inclusion',
      text: 'Signs the informed consent form.',
      result: 'manual',
      evidence: [],
    },
    {
      id: 'dx',
      kind: 'inclusion',
      cohort: 'sle',
      text: 'Refractory SLE.',
      result: 'pass',
      evidence: ['Condition/sle-1', 'MedicationRequest/pred-1'],
    },
    {
      id: 'dx',
      kind: 'inclusion',
      cohort: 'ssc',
      text: 'Progressive SSc.',
      result: 'fail',
      evidence: [],
    },
    {
      id: 'fvc',
      kind: 'exclusion',
      cohort: 'ssc',
      text: 'FVC above 30% predicted.',
      result: 'unknown',
      evidence: [],
    },
  ],
};

const NOT_RECRUITING_RESULT: TrialResult = { ...NEEDS_REVIEW, id: 'NCT06513429' };
const INELIGIBLE_RESULT: TrialResult = {
  ...NEEDS_REVIEW,
  id: 'NCT06349343',
  status: 'ineligible',
};

const TRIALS = [makeTrial(), MULTI, NOT_RECRUITING, INELIGIBLE];

function screeningOf(...trials: TrialResult[]): PatientScreening {
  return { patientId: 'pat-1', asOf: '2026-11-22', trials };
}

function sequentialIds(): () => string {
  let n = 0;
  return () => {
    n += 1;
    return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  };
}

function render(screening: PatientScreening, options: Record<string, unknown> = {}): Card[] {
  return renderCards(screening, TRIALS, { bundle: BUNDLE, newId: sequentialIds(), ...options });
}

describe('renderCards', () => {
  describe('which cards', () => {
    it('returns no card when no trial applies', () => {
      expect(render(screeningOf(INELIGIBLE_RESULT))).toEqual([]);
      expect(CdsResponseSchema.parse({ cards: render(screeningOf()) })).toEqual({ cards: [] });
    });

    it('renders one card per eligible or needs-review trial, eligible first', () => {
      const cards = render(screeningOf(NEEDS_REVIEW, INELIGIBLE_RESULT, MULTI_ELIGIBLE));
      expect(cards.map((c) => c.source.topic?.code)).toEqual(['NCT06822881', 'NCT06892145']);
    });

    it('orders trials of the same status by the share of computable criteria passed', () => {
      const better: TrialResult = {
        ...NEEDS_REVIEW,
        id: 'NCT06349343',
        criteria: NEEDS_REVIEW.criteria.map((c) =>
          c.id === 'steroid' ? { ...c, result: 'pass' as const } : c,
        ),
      };
      expect(shareOfComputablePassed(better)).toBeCloseTo(0.75);
      expect(shareOfComputablePassed(NEEDS_REVIEW)).toBeCloseTo(0.5);
      const cards = render(screeningOf(NEEDS_REVIEW, better));
      expect(cards.map((c) => c.source.topic?.code)).toEqual(['NCT06349343', 'NCT06892145']);
    });

    it('puts the trial whose record decided more criteria first when the shares are equal', () => {
      const fewer: TrialResult = {
        ...NEEDS_REVIEW,
        id: 'NCT06349343',
        criteria: NEEDS_REVIEW.criteria.filter((c) => c.id !== 'hemoglobin' && c.id !== 'steroid'),
      };
      expect(shareOfComputablePassed(fewer)).toBeCloseTo(0.5);
      const cards = render(screeningOf(fewer, NEEDS_REVIEW));
      expect(cards.map((c) => c.source.topic?.code)).toEqual(['NCT06892145', 'NCT06349343']);
    });

    it('leaves out trials that are not recruiting unless configured to show them', () => {
      expect(render(screeningOf(NOT_RECRUITING_RESULT))).toEqual([]);
      const [card] = render(screeningOf(NOT_RECRUITING_RESULT), { showNotRecruiting: true });
      expect(card?.summary).toBe(
        'Possible match (not recruiting): IM19 CAR-T for refractory SLE (NCT06513429), 3 criteria to confirm',
      );
      expect(card?.detail).toContain('registry status completed');
    });
  });

  describe('card content', () => {
    const [card] = render(screeningOf(NEEDS_REVIEW));

    it('summarises the trial and what is left to confirm in one short sentence', () => {
      expect(card?.summary).toBe(
        'Possible match: CD19 CAR-T trial for refractory SLE (NCT06892145), 3 criteria to confirm',
      );
      expect(card?.indicator).toBe('info');
    });

    it('names the study and sponsor and links the registry page', () => {
      expect(card?.source).toEqual({
        label: 'NCT06892145 · Chongqing Precision Biotech Co., Ltd',
        url: 'https://clinicaltrials.gov/study/NCT06892145',
        topic: {
          system: 'https://clinicaltrials.gov',
          code: 'NCT06892145',
          display: 'CD19 CAR-T trial for refractory SLE',
        },
      });
      expect(card?.links).toEqual([
        {
          label: 'NCT06892145 on ClinicalTrials.gov',
          url: 'https://clinicaltrials.gov/study/NCT06892145',
          type: 'absolute',
        },
      ]);
    });

    it('lists met, unknown (with what resolves it) and manual criteria with dated values', () => {
      const detail = card?.detail ?? '';
      expect(detail).toContain(
        '**2 of 5 criteria met on record**, 2 to confirm, 1 to check by hand',
      );
      expect(detail).toContain('**To confirm**');
      expect(detail).toContain(
        '- LVEF at least 50% by echocardiography within 8 weeks before screening\n  - on file: LVEF 58 %, ' +
          daysAgo(200) +
          '\n  - needs: Echocardiogram within 8 weeks.',
      );
      expect(detail).toContain(
        '- Stable glucocorticoid dose\n  - needs: Record the current glucocorticoid dose.',
      );
      expect(detail).toContain('**Check by hand**\n- Signs the informed consent form');
      expect(detail).toContain(
        '- SLE for at least 6 months: Systemic lupus erythematosus, onset 2022-03-01',
      );
      expect(detail).toContain(`- Hemoglobin at least 60 g/L: Hb 112 g/L, ${daysAgo(3)}`);
      expect(detail).not.toContain('**Not met**');
      expect(detail).toContain('Phase 1 · recruiting · Hangzhou, China');
    });

    it('says why a criterion was not decided when the record was read only in part (issue 12)', () => {
      const partial: TrialResult = {
        ...NEEDS_REVIEW,
        criteria: NEEDS_REVIEW.criteria.map((c) =>
          c.id === 'steroid'
            ? {
                ...c,
                partialRecord: [
                  { type: 'MedicationRequest', reason: 'unresolved-medication' as const },
                  { type: 'Observation', reason: 'too-long' as const },
                ],
              }
            : c,
        ),
      };
      const detail = render(screeningOf(partial))[0]?.detail ?? '';
      expect(detail).toContain(
        '- Stable glucocorticoid dose\n' +
          '  - not decided: a medication on record could not be identified (MedicationRequest)\n' +
          '  - not decided: the record was too long to read in full (Observation)\n' +
          '  - needs: Record the current glucocorticoid dose.',
      );
    });

    it('never shows the patient resource', () => {
      expect(JSON.stringify(card)).not.toContain(PATIENT.birthDate);
    });

    it('suggests a draft referral ServiceRequest to the trial team', () => {
      expect(card?.selectionBehavior).toBe('at-most-one');
      expect(card?.suggestions).toEqual([
        {
          label: 'Refer to the NCT06892145 trial team',
          uuid: '00000000-0000-4000-8000-000000000002',
          actions: [
            {
              type: 'create',
              description: 'Draft a referral to the NCT06892145 trial team for screening',
              resource: {
                resourceType: 'ServiceRequest',
                status: 'draft',
                intent: 'proposal',
                code: {
                  coding: [
                    {
                      system: 'http://snomed.info/sct',
                      code: '3457005',
                      display: 'Patient referral',
                    },
                  ],
                  text: 'Referral for screening in clinical trial NCT06892145',
                },
                subject: { reference: 'Patient/pat-1' },
                reasonCode: [
                  {
                    coding: [
                      {
                        system: 'http://snomed.info/sct',
                        code: '55464009',
                        display: 'Systemic lupus erythematosus',
                      },
                    ],
                    text: 'Refractory SLE',
                  },
                ],
                note: [
                  {
                    text:
                      'Possible participant for NCT06892145 (CD19 CAR-T trial for refractory SLE), cohort Refractory SLE; ' +
                      'see https://clinicaltrials.gov/study/NCT06892145. Trial contact: Jing Pan (+86 10 0000 0000, trial@example.org). ' +
                      'Site: The Second Affiliated Hospital of Zhejiang University, Hangzhou, China.',
                  },
                ],
              },
            },
          ],
        },
      ]);
      expect(card?.uuid).toBe('00000000-0000-4000-8000-000000000001');
    });

    it('offers override reasons with a display', () => {
      expect(card?.overrideReasons?.map((r) => r.display)).toEqual([
        'Patient declined',
        'Already screened or referred for this trial',
        'Not a candidate on clinical judgement',
        'Known not to meet a criterion',
        'Trial site too far for the patient',
      ]);
    });
  });

  describe('multi-cohort trials', () => {
    const [card] = render(screeningOf(MULTI_ELIGIBLE), { userId: 'Practitioner/doc-1' });

    it('names the cohorts still possible and leaves out ruled-out cohorts', () => {
      expect(card?.summary).toBe(
        'Likely match: CT1190B CAR-T for refractory SLE or SSc (NCT06822881), 1 criterion to check by hand',
      );
      expect(card?.detail).toContain('Cohort still possible: Refractory SLE');
      expect(card?.detail).not.toContain('Progressive SSc');
      expect(card?.detail).not.toContain('FVC');
      expect(card?.detail).toContain(
        `- Refractory SLE: prednisone 10 mg daily, since ${daysAgo(300)}; Systemic lupus erythematosus, onset 2022-03-01`,
      );
      expect(card?.source.label).toBe('NCT06822881 · Beijing GoBroad Hospital');
    });

    it('gives the referral the cohort reason and the requesting user', () => {
      const resource = card?.suggestions?.[0]?.actions?.[0]?.resource;
      expect(resource?.reasonCode).toEqual([
        {
          coding: [
            {
              system: 'http://snomed.info/sct',
              code: '55464009',
              display: 'Systemic lupus erythematosus',
            },
          ],
          text: 'Refractory SLE',
        },
      ]);
      expect(resource?.requester).toEqual({ reference: 'Practitioner/doc-1' });
    });

    it('offers one referral per cohort when several are possible', () => {
      const [both] = render(
        screeningOf({ ...MULTI_ELIGIBLE, status: 'needs-review', cohorts: ['sle', 'ssc'] }),
      );
      expect(both?.suggestions?.map((s) => s.label)).toEqual([
        'Refer to the NCT06822881 trial team (Refractory SLE)',
        'Refer to the NCT06822881 trial team (Refractory/progressive SSc)',
      ]);
      expect(both?.detail).toContain(
        'Cohorts still possible: Refractory SLE, Refractory/progressive SSc',
      );
      expect(both?.detail).toContain('needs: Pulmonary function tests.');
    });
  });

  describe('criterion wording (issue 14)', () => {
    const labelled = makeTrial({
      id: 'NCT06822881',
      sponsor: undefined,
      cohorts: MULTI.cohorts,
      caveats: [
        'Sites are not on the registry record.',
        { text: 'No SLE exclusion was checked.', cohort: 'sle' },
        { text: 'Refractory SSc is judged from the treatment history only.', cohort: 'ssc' },
      ],
      criteria: [
        {
          id: 'hemoglobin',
          kind: 'inclusion',
          text: 'Hemoglobin at least 60 g/L without transfusion in the 7 days before screening.',
          label: 'Hb ≥ 60 g/L, no transfusion in the 7 days before',
          unit: 'g/L',
          define: 'Hb',
        },
        {
          id: 'fvc',
          kind: 'exclusion',
          cohort: 'ssc',
          text: 'Excluded: FVC at most 30% of predicted.',
          label: 'FVC > 30 % of predicted',
          failedLabel: 'FVC ≤ 30 % of predicted',
          define: 'Fvc',
        },
      ],
    });
    const result = (fvc: 'pass' | 'fail'): TrialResult => ({
      id: 'NCT06822881',
      title: 'CT1190B',
      status: 'needs-review',
      cohorts: ['ssc'],
      criteria: [
        {
          id: 'hemoglobin',
          kind: 'inclusion',
          text: 'Hemoglobin at least 60 g/L without transfusion in the 7 days before screening.',
          result: 'pass',
          evidence: ['Observation/hb-1'],
        },
        {
          id: 'fvc',
          kind: 'exclusion',
          cohort: 'ssc',
          text: 'Excluded: FVC at most 30% of predicted.',
          result: fvc,
          evidence: [],
        },
      ],
    });
    const detailOf = (r: TrialResult): string =>
      renderCards(screeningOf(r), [labelled], { bundle: BUNDLE, newId: sequentialIds() })[0]
        ?.detail ?? '';

    it('shows the label with the value in the criterion unit, not the cut text', () => {
      expect(detailOf(result('pass'))).toContain(
        `**Met**\n- Hb ≥ 60 g/L, no transfusion in the 7 days before: Hb 112 g/L, ${daysAgo(3)}`,
      );
    });

    it('lists an exclusion not found apart from the inclusions met, and one found as found', () => {
      expect(detailOf(result('pass'))).toContain(
        '**Exclusions checked**\n- FVC \\> 30 % of predicted',
      );
      const found = detailOf(result('fail'));
      expect(found).toContain('**Not met**\n- FVC ≤ 30 % of predicted');
      expect(found).not.toContain('Exclusions checked');
    });

    it('shows a cohort caveat only while that cohort is possible', () => {
      const detail = detailOf(result('pass'));
      expect(detail).toContain(
        '_Sites are not on the registry record. Refractory SSc is judged from the treatment history only._',
      );
      expect(detail).not.toContain('SLE exclusion');
    });

    it('names the registry as the source when the sponsor is not known', () => {
      const [card] = renderCards(screeningOf(result('pass')), [labelled], {
        bundle: BUNDLE,
        newId: sequentialIds(),
      });
      expect(card?.source.label).toBe('ClinicalTrials.gov NCT06822881');
    });
  });

  describe('options', () => {
    it('adds a smart link naming the trial when configured', () => {
      const [card] = render(screeningOf(NEEDS_REVIEW), {
        smartLink: { url: 'https://apps.example.org/trial-screening/launch' },
      });
      expect(card?.links?.[1]).toEqual({
        label: 'Open the trial screening app',
        url: 'https://apps.example.org/trial-screening/launch',
        type: 'smart',
        appContext: '{"trial":"NCT06892145"}',
      });
    });

    it('keeps the summary under 140 characters for the longest short title', () => {
      const long = makeTrial({
        shortTitle: 'A'.repeat(40) + ' ' + 'B'.repeat(39),
        status: 'ACTIVE_NOT_RECRUITING',
      });
      const cards = renderCards(screeningOf(NEEDS_REVIEW), [long], {
        bundle: BUNDLE,
        newId: sequentialIds(),
        showNotRecruiting: true,
      });
      expect(cards[0]?.summary.length).toBeLessThan(140);
      // The title goes whole or not at all (issue 14: no sentence cut with "…").
      expect(cards[0]?.summary).toBe(
        'Possible match (not recruiting): NCT06892145, 3 criteria to confirm',
      );
    });
  });

  describe('schema conformance', () => {
    it('renders only cards that validate against the CDS Hooks card schema', () => {
      const all = [
        ...render(screeningOf(NEEDS_REVIEW, MULTI_ELIGIBLE, NOT_RECRUITING_RESULT), {
          showNotRecruiting: true,
          smartLink: { url: 'https://apps.example.org/launch', label: 'Screen' },
          userId: 'Practitioner/doc-1',
        }),
        ...render(screeningOf({ ...MULTI_ELIGIBLE, cohorts: ['sle', 'ssc'] })),
      ];
      expect(all.length).toBe(4);
      for (const card of all) {
        expect(CardSchema.safeParse(card).error).toBeUndefined();
        expect(card.uuid).toMatch(/^[0-9a-f-]{36}$/);
        for (const s of card.suggestions ?? []) expect(s.uuid).toBeDefined();
      }
      expect(CdsResponseSchema.safeParse({ cards: all.slice(0, 3) }).success).toBe(true);
    });

    it('maps each issued card to its trial', () => {
      const cards = render(screeningOf(NEEDS_REVIEW, MULTI_ELIGIBLE));
      expect(issuedCards(cards)).toEqual([
        { uuid: cards[0]?.uuid, trialId: 'NCT06822881' },
        { uuid: cards[1]?.uuid, trialId: 'NCT06892145' },
      ]);
    });
  });
});
