import type { Bundle, ServiceRequest } from 'fhir/r4.js';
import type { Card, Link, OverrideReasonCoding, Suggestion } from '../cds-hooks/card.js';
import type { CriterionResult, PatientScreening, TrialResult } from '../engine/screening.js';
import type { Cohort, Criterion, Trial } from '../trials/trial.js';
import {
  boundedDetail,
  describeEvidence,
  escapeMarkdown,
  indexResources,
  type ResourceIndex,
} from './describe-evidence.js';

const SNOMED = 'http://snomed.info/sct';
const REGISTRY = 'https://clinicaltrials.gov';
/** SNOMED CT 3457005 "Patient referral": the ServiceRequest code of a referral to a trial team. */
const REFERRAL = { system: SNOMED, code: '3457005', display: 'Patient referral' } as const;
const OVERRIDE_REASON_SYSTEM = 'urn:cds-trial-matcher:override-reason';

/**
 * Why a clinician dismisses a trial card. The codes are this service's own; the feedback report
 * groups overrides by them.
 */
export const OVERRIDE_REASONS: readonly OverrideReasonCoding[] = [
  { system: OVERRIDE_REASON_SYSTEM, code: 'patient-declined', display: 'Patient declined' },
  {
    system: OVERRIDE_REASON_SYSTEM,
    code: 'already-screened',
    display: 'Already screened or referred for this trial',
  },
  {
    system: OVERRIDE_REASON_SYSTEM,
    code: 'clinical-judgement',
    display: 'Not a candidate on clinical judgement',
  },
  {
    system: OVERRIDE_REASON_SYSTEM,
    code: 'criterion-not-met',
    display: 'Known not to meet a criterion',
  },
  {
    system: OVERRIDE_REASON_SYSTEM,
    code: 'site-not-reachable',
    display: 'Trial site too far for the patient',
  },
];

/** A SMART app link added to every card, e.g. a trial-screening app the EHR launches. */
export interface SmartLinkOptions {
  /** The SMART app's launch URL. */
  readonly url: string;
  /** The link text (default "Open the trial screening app"). */
  readonly label?: string;
}

/** What card rendering needs besides the engine's results. */
export interface CardContext {
  /** The normalised patient bundle the engine evaluated: evidence references point into it. */
  readonly bundle: Bundle;
  /** Generates card and suggestion uuids (injected so tests are deterministic). */
  readonly newId: () => string;
  /** Also show trials whose registry status is not RECRUITING (default false). */
  readonly showNotRecruiting?: boolean;
  /** An optional SMART link on every card; its appContext names the trial. */
  readonly smartLink?: SmartLinkOptions;
  /** The user who would request the referral (`context.userId`, e.g. `Practitioner/123`). */
  readonly userId?: string;
}

/** Registry statuses under which a trial takes referrals (ClinicalTrials.gov `overallStatus`). */
export function isRecruiting(trial: Trial): boolean {
  return trial.status.toUpperCase().replace(/[\s-]+/g, '_') === 'RECRUITING';
}

function isComputable(c: CriterionResult): boolean {
  return c.result !== 'manual';
}

/**
 * The share of computable (not manual) criteria that passed, 0 to 1; used to order cards.
 * @param result - one trial's result.
 */
export function shareOfComputablePassed(result: TrialResult): number {
  const computable = relevantCriteria(result).filter(isComputable);
  if (computable.length === 0) return 0;
  return computable.filter((c) => c.result === 'pass').length / computable.length;
}

/** The criteria that matter for the card: shared ones and those of cohorts still possible. */
function relevantCriteria(result: TrialResult): readonly CriterionResult[] {
  const cohorts = result.cohorts;
  if (cohorts === undefined) return result.criteria;
  return result.criteria.filter((c) => c.cohort === undefined || cohorts.includes(c.cohort));
}

function possibleCohorts(result: TrialResult, trial: Trial): readonly Cohort[] {
  if (result.cohorts === undefined) return trial.cohorts;
  const ids = result.cohorts;
  return ids.flatMap((id) => trial.cohorts.filter((c) => c.id === id));
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Shortens record or trial text at a word boundary, for a narrow sidebar. */
function shorten(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[,;:(\s]+$/, '')}…`;
}

function renderSummary(result: TrialResult, trial: Trial, toConfirm: number): string {
  const lead = result.status === 'eligible' ? 'Likely match' : 'Possible match';
  const recruiting = isRecruiting(trial) ? '' : ' (not recruiting)';
  const tail =
    result.status === 'eligible'
      ? toConfirm === 0
        ? 'all criteria met on record'
        : `${plural(toConfirm, 'criterion', 'criteria')} to check by hand`
      : `${plural(toConfirm, 'criterion', 'criteria')} to confirm`;
  const build = (title: string): string => `${lead}${recruiting}: ${title} (${trial.id}), ${tail}`;
  const full = build(trial.shortTitle);
  if (full.length < 140) return full;
  return build(shorten(trial.shortTitle, trial.shortTitle.length - (full.length - 139)));
}

function criterionLabel(c: CriterionResult, max = 90): string {
  return escapeMarkdown(shorten(c.text, max));
}

function findCriterion(trial: Trial, c: CriterionResult): Criterion | undefined {
  return trial.criteria.find((d) => d.id === c.id && d.cohort === c.cohort);
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ['', `**${title}**`, ...lines];
}

function renderDetail(
  result: TrialResult,
  trial: Trial,
  cohorts: readonly Cohort[],
  index: ResourceIndex,
): string {
  const criteria = relevantCriteria(result);
  const by = (value: CriterionResult['result']): readonly CriterionResult[] =>
    criteria.filter((c) => c.result === value);
  const met = by('pass');
  const failed = by('fail');
  const unknown = by('unknown');
  const manual = by('manual');
  const computable = criteria.filter(isComputable).length;

  const headline =
    result.status === 'eligible'
      ? `**Meets all ${plural(computable, 'criterion', 'criteria')} the record can decide**`
      : `**${met.length} of ${plural(computable, 'criterion', 'criteria')} met on record**, ${unknown.length} unknown, ${manual.length} to check by hand`;
  const facts = [
    trial.phase,
    isRecruiting(trial) ? 'recruiting' : `registry status ${trial.status.toLowerCase()}`,
    trial.sites.length > 0
      ? trial.sites
          .slice(0, 2)
          .map((s) => [s.city, s.country].filter((p) => p !== undefined).join(', ') || s.facility)
          .join('; ') + (trial.sites.length > 2 ? ` (+${trial.sites.length - 2})` : '')
      : undefined,
  ].filter((f): f is string => f !== undefined && f !== '');
  const lines: string[] = [headline, '', escapeMarkdown(facts.join(' · '))];
  if (trial.cohorts.length > 1) {
    lines.push(
      '',
      `Cohort${cohorts.length === 1 ? '' : 's'} still possible: ${cohorts.map((c) => escapeMarkdown(c.title)).join(', ')}`,
    );
  }

  lines.push(
    ...section(
      'To confirm',
      unknown.flatMap((c) => {
        const resolve = findCriterion(trial, c)?.resolve;
        const onFile = describeEvidence(c.evidence, index, 2);
        return [
          `- ${criterionLabel(c)}`,
          `  - on file: ${onFile.length === 0 ? 'nothing' : onFile.join('; ')}`,
          ...(resolve === undefined ? [] : [`  - needs: ${escapeMarkdown(resolve)}`]),
        ];
      }),
    ),
    ...section(
      'Not met',
      failed.map((c) => {
        const onFile = describeEvidence(c.evidence, index, 2);
        return `- ${criterionLabel(c)}${onFile.length === 0 ? '' : `: ${onFile.join('; ')}`}`;
      }),
    ),
    ...section(
      'Check by hand',
      manual.map((c) => `- ${criterionLabel(c)}`),
    ),
    ...section(
      'Met',
      met.map((c) => {
        const onFile = describeEvidence(c.evidence, index, 2);
        if (onFile.length === 0) return `- ${criterionLabel(c)}`;
        return `- ${criterionLabel(c, 60)}: ${onFile.join('; ')}`;
      }),
    ),
  );
  if (trial.caveats.length > 0) {
    lines.push('', `_${trial.caveats.map(escapeMarkdown).join(' ')}_`);
  }
  return boundedDetail(lines);
}

function contactNote(trial: Trial): string | undefined {
  const contact = trial.contacts[0];
  const site = trial.sites.find((s) => s.status === undefined || isRecruitingSite(s.status));
  const parts: string[] = [];
  if (contact !== undefined) {
    const reach = [contact.phone, contact.email].filter((p) => p !== undefined).join(', ');
    parts.push(`Trial contact: ${contact.name}${reach === '' ? '' : ` (${reach})`}.`);
  }
  if (site !== undefined) {
    const place = [site.facility, site.city, site.country].filter((p) => p !== undefined);
    parts.push(`Site: ${place.join(', ')}.`);
  }
  return parts.length === 0 ? undefined : parts.join(' ');
}

function isRecruitingSite(status: string): boolean {
  return status.toUpperCase() === 'RECRUITING';
}

/** The referral a suggestion creates: a draft proposal, never an active order. */
function referral(
  trial: Trial,
  cohort: Cohort,
  patientId: string,
  userId: string | undefined,
): ServiceRequest {
  const contact = contactNote(trial);
  return {
    resourceType: 'ServiceRequest',
    status: 'draft',
    intent: 'proposal',
    code: {
      coding: [{ ...REFERRAL }],
      text: `Referral for screening in clinical trial ${trial.id}`,
    },
    subject: { reference: `Patient/${patientId}` },
    ...(userId === undefined ? {} : { requester: { reference: userId } }),
    reasonCode: [
      {
        coding: [{ system: SNOMED, code: cohort.reason.code, display: cohort.reason.display }],
        text: cohort.title,
      },
    ],
    note: [
      {
        text: `Possible participant for ${trial.id} (${trial.shortTitle}), cohort ${cohort.title}; see ${REGISTRY}/study/${trial.id}.${contact === undefined ? '' : ` ${contact}`}`,
      },
    ],
  };
}

function renderSuggestions(
  trial: Trial,
  cohorts: readonly Cohort[],
  patientId: string,
  context: CardContext,
): Suggestion[] {
  return cohorts.map((cohort) => ({
    label:
      cohorts.length === 1
        ? `Refer to the ${trial.id} trial team`
        : `Refer to the ${trial.id} trial team (${cohort.title})`,
    uuid: context.newId(),
    actions: [
      {
        type: 'create',
        description: `Draft a referral to the ${trial.id} trial team for screening`,
        resource: referral(trial, cohort, patientId, context.userId) as unknown as Record<
          string,
          unknown
        >,
      },
    ],
  }));
}

function renderLinks(trial: Trial, context: CardContext): Link[] {
  const links: Link[] = [
    {
      label: `${trial.id} on ClinicalTrials.gov`,
      url: `${REGISTRY}/study/${trial.id}`,
      type: 'absolute',
    },
  ];
  if (context.smartLink !== undefined) {
    links.push({
      label: context.smartLink.label ?? 'Open the trial screening app',
      url: context.smartLink.url,
      type: 'smart',
      appContext: JSON.stringify({ trial: trial.id }),
    });
  }
  return links;
}

/**
 * One card for one trial the patient may qualify for.
 * @param result - the engine's result for the trial (eligible or needs-review).
 * @param trial - the trial definition (metadata, cohorts, resolve hints).
 * @param patientId - the screened patient's id (the referral's subject).
 * @param index - the bundle's resources by `Type/id`, for evidence.
 * @param context - id generator and options.
 */
export function renderTrialCard(
  result: TrialResult,
  trial: Trial,
  patientId: string,
  index: ResourceIndex,
  context: CardContext,
): Card {
  const criteria = relevantCriteria(result);
  const toConfirm =
    result.status === 'eligible'
      ? criteria.filter((c) => c.result === 'manual').length
      : criteria.filter((c) => c.result === 'unknown' || c.result === 'manual').length;
  const cohorts = possibleCohorts(result, trial);
  const uuid = context.newId();
  const suggestions = renderSuggestions(trial, cohorts, patientId, context);
  return {
    uuid,
    summary: renderSummary(result, trial, toConfirm),
    detail: renderDetail(result, trial, cohorts, index),
    indicator: 'info',
    source: {
      label: `${trial.id} · ${trial.sponsor ?? 'sponsor not on record'}`,
      url: `${REGISTRY}/study/${trial.id}`,
      topic: { system: REGISTRY, code: trial.id, display: trial.shortTitle },
    },
    ...(suggestions.length === 0 ? {} : { suggestions, selectionBehavior: 'at-most-one' as const }),
    overrideReasons: OVERRIDE_REASONS.map((r) => ({ ...r })),
    links: renderLinks(trial, context),
  };
}

/**
 * One card per trial the patient may qualify for (eligible or needs-review): eligible first, then
 * by the share of computable criteria passed, then by trial id. No card for ineligible trials,
 * for trials without a definition, or (unless `showNotRecruiting`) for trials not recruiting.
 * @param screening - the engine's results for one patient.
 * @param trials - the trial definitions (metadata for the cards).
 * @param context - the patient bundle, the id generator and options.
 */
export function renderCards(
  screening: PatientScreening,
  trials: readonly Trial[],
  context: CardContext,
): Card[] {
  const byId = new Map(trials.map((t) => [t.id, t]));
  // Most patients get no card: the bundle is indexed only when there is one to render.
  let index: ResourceIndex | undefined;
  const evidenceIndex = (): ResourceIndex => (index ??= indexResources(context.bundle));
  return (
    screening.trials
      .filter((r) => r.status !== 'ineligible')
      .flatMap((r) => {
        const trial = byId.get(r.id);
        if (trial === undefined) return [];
        if (!isRecruiting(trial) && context.showNotRecruiting !== true) return [];
        const passed = relevantCriteria(r).filter((c) => c.result === 'pass').length;
        return [{ result: r, trial, share: shareOfComputablePassed(r), passed }];
      })
      // Eligible first, then the share of computable criteria passed; on a tie, the trial whose
      // record decided more criteria (18 of 18 says more than 2 of 2), then the trial id.
      .sort(
        (a, b) =>
          Number(a.result.status !== 'eligible') - Number(b.result.status !== 'eligible') ||
          b.share - a.share ||
          b.passed - a.passed ||
          a.trial.id.localeCompare(b.trial.id),
      )
      .map(({ result, trial }) =>
        renderTrialCard(result, trial, screening.patientId, evidenceIndex(), context),
      )
  );
}

/** A card this service issued and the trial it is about: what the card ledger remembers. */
export interface IssuedCard {
  readonly uuid: string;
  readonly trialId: string;
}

/**
 * The card uuid and trial id of each rendered card (the trial is the card's `source.topic.code`).
 * @param cards - cards from renderCards.
 */
export function issuedCards(cards: readonly Card[]): IssuedCard[] {
  return cards.flatMap((card) =>
    card.uuid !== undefined && card.source.topic?.system === REGISTRY
      ? [{ uuid: card.uuid, trialId: card.source.topic.code }]
      : [],
  );
}

/** The configurable part of CardContext (from the service configuration). */
export type CardOptions = Pick<CardContext, 'showNotRecruiting' | 'smartLink'>;
