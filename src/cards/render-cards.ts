import type { Bundle, FhirResource, Observation, ServiceRequest } from 'fhir/r4.js';
import type { Card, Link, OverrideReasonCoding, Suggestion } from './card.js';
import type { CriterionResult, PatientScreening, TrialResult } from '../domain/screening.js';
import type { Cohort, Criterion, Trial } from '../domain/trial.js';
import {
  boundedDetail,
  describeEvidenceLines,
  escapeMarkdown,
  indexResources,
  type ResourceIndex,
} from './describe-evidence.js';
import { convertUnit, formatNumber, writtenUnit } from './units.js';

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
  /** The engine's rules version, carried in every card's extension (issue 18). */
  readonly rulesVersion?: string;
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

/** The criterion as the card names it: its authored label, else its full text (never cut). */
function criterionLabel(c: CriterionResult, criterion: Criterion | undefined): string {
  const label =
    c.result === 'fail' ? (criterion?.failedLabel ?? criterion?.label) : criterion?.label;
  return escapeMarkdown((label ?? c.text).replace(/\.$/, ''));
}

/**
 * One sentence under 140 characters. A trial whose protocol criteria are unpublished is never a
 * "likely match": only its registry checks were screened.
 */
function renderSummary(result: TrialResult, trial: Trial, toConfirm: number): string {
  const recruiting = isRecruiting(trial) ? '' : ' (not recruiting)';
  let lead: string;
  let tail: string;
  if (!trial.criteriaPublished) {
    const checks = relevantCriteria(result).filter(isComputable);
    const met = checks.filter((c) => c.result === 'pass').length;
    lead = 'Protocol criteria unpublished';
    tail =
      met === checks.length
        ? `only its ${plural(checks.length, 'registry check', 'registry checks')} met`
        : `${met} of its ${plural(checks.length, 'registry check', 'registry checks')} met`;
  } else if (result.status === 'eligible') {
    lead = 'Likely match';
    tail =
      toConfirm === 0
        ? 'all criteria met on record'
        : `${plural(toConfirm, 'criterion', 'criteria')} to check by hand`;
  } else {
    lead = 'Possible match';
    tail = `${plural(toConfirm, 'criterion', 'criteria')} to confirm`;
  }
  const full = `${lead}${recruiting}: ${trial.shortTitle} (${trial.id}), ${tail}`;
  // The title goes whole or not at all: a cut title reads as a cut sentence.
  return full.length < 140 ? full : `${lead}${recruiting}: ${trial.id}, ${tail}`;
}

function findCriterion(trial: Trial, c: CriterionResult): Criterion | undefined {
  return trial.criteria.find((d) => d.id === c.id && d.cohort === c.cohort);
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ['', `**${title}**`, ...lines];
}

function yearsBetween(birthDate: string, asOf: string): number | undefined {
  const birth = /^(\d{4})-(\d{2})-(\d{2})/.exec(birthDate);
  const now = /^(\d{4})-(\d{2})-(\d{2})/.exec(asOf);
  if (birth === null || now === null) return undefined;
  const [by, bm, bd] = birth.slice(1).map(Number) as [number, number, number];
  const [ny, nm, nd] = now.slice(1).map(Number) as [number, number, number];
  return ny - by - (nm < bm || (nm === bm && nd < bd) ? 1 : 0);
}

function observationOf(resource: FhirResource | undefined): Observation | undefined {
  return resource?.resourceType === 'Observation' ? resource : undefined;
}

function valueIn(observation: Observation | undefined, unit: string): number | undefined {
  const quantity = observation?.valueQuantity;
  if (quantity?.value === undefined || quantity.code === undefined) return undefined;
  return convertUnit(quantity.value, quantity.code, unit);
}

function measured(observation: Observation, name: string): string {
  const quantity = observation.valueQuantity;
  const unit = writtenUnit(quantity?.code ?? quantity?.unit ?? '');
  const date = (observation.effectiveDateTime ?? observation.effectivePeriod?.start)?.slice(0, 10);
  return `${name} ${formatNumber(quantity?.value ?? Number.NaN)}${unit === '' ? '' : ` ${unit}`}${date === undefined ? '' : ` on ${date}`}`;
}

/**
 * The Cockcroft-Gault creatinine clearance the CQL computes (Renal.cql), shown with its inputs:
 * CrCl [mL/min] = (140 - age) x weight [kg] / (72 x SCr [mg/dL]) x 0.85 if female (SCr in umol/L
 * / 88.4). Undefined when the evidence is a reported clearance or an input is missing.
 */
function cockcroftGault(
  references: readonly string[],
  index: ResourceIndex,
  patientId: string,
  asOf: string,
): { text: string; refs: readonly string[] } | undefined {
  const patient = index.get(`Patient/${patientId}`);
  if (patient?.resourceType !== 'Patient' || patient.birthDate === undefined) return undefined;
  const age = yearsBetween(patient.birthDate, asOf);
  const sex = patient.gender;
  if (age === undefined || (sex !== 'female' && sex !== 'male')) return undefined;
  let creatinine: { ref: string; observation: Observation; mgDl: number } | undefined;
  let weight: { ref: string; observation: Observation; kg: number } | undefined;
  for (const ref of references) {
    const observation = observationOf(index.get(ref));
    if (observation === undefined) continue;
    const kg = valueIn(observation, 'kg');
    const mgDl =
      valueIn(observation, 'mg/dL') ??
      (observation.valueQuantity?.value === undefined ? undefined : mmolPerLitre(observation));
    if (kg !== undefined) weight ??= { ref, observation, kg };
    else if (mgDl !== undefined) creatinine ??= { ref, observation, mgDl };
  }
  if (creatinine === undefined || weight === undefined || creatinine.mgDl <= 0) return undefined;
  const clearance =
    (((140 - age) * weight.kg) / (72 * creatinine.mgDl)) * (sex === 'female' ? 0.85 : 1);
  const inputs = [
    measured(creatinine.observation, 'creatinine'),
    measured(weight.observation, 'weight'),
    `age ${age}`,
    sex,
  ];
  return {
    text: escapeMarkdown(
      `Creatinine clearance ${Math.round(clearance)} mL/min (Cockcroft-Gault: ${inputs.join(', ')})`,
    ),
    refs: [creatinine.ref, weight.ref],
  };
}

/** Creatinine in µmol/L as mg/dL (88.4 µmol/L per mg/dL), as Renal.cql converts it. */
function mmolPerLitre(observation: Observation): number | undefined {
  const micromolar = valueIn(observation, 'umol/L');
  return micromolar === undefined ? undefined : micromolar / 88.4;
}

/** What the detail needs besides the result and the trial. */
interface DetailContext {
  readonly index: ResourceIndex;
  readonly patientId: string;
  readonly asOf: string;
}

function renderDetail(
  result: TrialResult,
  trial: Trial,
  cohorts: readonly Cohort[],
  context: DetailContext,
): string {
  const { index } = context;
  const criteria = relevantCriteria(result);
  const by = (value: CriterionResult['result']): readonly CriterionResult[] =>
    criteria.filter((c) => c.result === value);
  const met = by('pass').filter((c) => c.kind === 'inclusion');
  const excludedNot = by('pass').filter((c) => c.kind === 'exclusion');
  const failed = by('fail');
  const unknown = by('unknown');
  const manual = by('manual');

  // Each record is shown once per card, next to the first criterion it decided.
  const shown = new Set<string>();
  const evidenceFor = (c: CriterionResult, limit = 3): string[] => {
    const criterion = findCriterion(trial, c);
    const lines = describeEvidenceLines(c.evidence, index, criterion?.unit);
    const computed =
      criterion?.computed === 'cockcroft-gault'
        ? cockcroftGault(c.evidence, index, context.patientId, context.asOf)
        : undefined;
    const fresh = lines.filter((l) => !shown.has(l.ref) && !computed?.refs.includes(l.ref));
    const texts = [
      ...(computed === undefined || computed.refs.every((r) => shown.has(r))
        ? []
        : [computed.text]),
      ...fresh.slice(0, limit).map((l) => l.text),
    ];
    for (const ref of computed?.refs ?? []) shown.add(ref);
    for (const l of fresh.slice(0, limit)) shown.add(l.ref);
    if (texts.length === 0 && lines.length > 0) return ['see above'];
    return texts;
  };
  const withEvidence = (c: CriterionResult): string => {
    const onFile = evidenceFor(c);
    const label = criterionLabel(c, findCriterion(trial, c));
    return `- ${label}${onFile.length === 0 ? '' : `: ${onFile.join('; ')}`}`;
  };

  const decidable = criteria.filter(isComputable).length;
  let headline: string;
  if (!trial.criteriaPublished) {
    headline = `**The protocol's criteria are unpublished**: ${by('pass').length} of ${plural(decidable, 'registry check', 'registry checks')} met on record, ${plural(manual.length + unknown.length, 'criterion', 'criteria')} to check with the study team`;
  } else {
    const rest = [
      unknown.length > 0 ? `${unknown.length} to confirm` : undefined,
      manual.length > 0 ? `${manual.length} to check by hand` : undefined,
      failed.length > 0 ? `${failed.length} not met` : undefined,
    ].filter((p): p is string => p !== undefined);
    headline = `**${by('pass').length} of ${plural(criteria.length, 'criterion', 'criteria')} met on record**${rest.length === 0 ? '' : `, ${rest.join(', ')}`}`;
  }
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
        const onFile = evidenceFor(c, 2);
        return [
          `- ${criterionLabel(c, findCriterion(trial, c))}`,
          ...partialRecordLines(c),
          ...(onFile.length === 0 ? [] : [`  - on file: ${onFile.join('; ')}`]),
          ...(resolve === undefined ? [] : [`  - needs: ${escapeMarkdown(resolve)}`]),
        ];
      }),
    ),
    ...section('Not met', failed.map(withEvidence)),
    ...section(
      trial.criteriaPublished ? 'Check by hand' : 'Ask the study team',
      manual.map((c) => `- ${criterionLabel(c, findCriterion(trial, c))}`),
    ),
    ...section('Met', met.map(withEvidence)),
    ...section('Exclusions checked', excludedNot.map(withEvidence)),
  );
  const cohortIds = new Set(cohorts.map((c) => c.id));
  const caveats = trial.caveats.flatMap((caveat) =>
    typeof caveat === 'string' ? [caveat] : cohortIds.has(caveat.cohort) ? [caveat.text] : [],
  );
  if (caveats.length > 0) {
    lines.push('', `_${caveats.map(escapeMarkdown).join(' ')}_`);
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
 * @param patient - the screened patient's id (the referral's subject) and the evaluation date.
 * @param index - the bundle's resources by `Type/id`, for evidence.
 * @param context - id generator and options.
 */
export function renderTrialCard(
  result: TrialResult,
  trial: Trial,
  patient: Pick<PatientScreening, 'patientId' | 'asOf'>,
  index: ResourceIndex,
  context: CardContext,
): Card {
  const { patientId, asOf } = patient;
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
    detail: renderDetail(result, trial, cohorts, { index, patientId, asOf }),
    indicator: 'info',
    source: {
      label:
        trial.sponsor === undefined
          ? `ClinicalTrials.gov ${trial.id}`
          : `${trial.id} · ${trial.sponsor}`,
      url: `${REGISTRY}/study/${trial.id}`,
      topic: { system: REGISTRY, code: trial.id, display: trial.shortTitle },
    },
    ...(suggestions.length === 0 ? {} : { suggestions, selectionBehavior: 'at-most-one' as const }),
    overrideReasons: OVERRIDE_REASONS.map((r) => ({ ...r })),
    links: renderLinks(trial, context),
    extension: {
      [CARD_EXTENSION]: {
        trial: trial.id,
        status: result.status,
        ...(context.rulesVersion !== undefined ? { rulesVersion: context.rulesVersion } : {}),
      },
    },
  };
}

/**
 * The key of this service's card extension (CDS Hooks 2.0.1 "Extensions": `extension` is a JSON
 * object, keys SHOULD be reverse-domain names; this project owns no domain, so the key is its
 * name). It holds `trial` (NCT id), `status` (`eligible` or `needs-review`, as the screen CLI
 * reports it) and `rulesVersion` (the digest of the ELM, trial definitions, value sets and site
 * code mapping that produced the card), so that a card can be traced to the rules that made it.
 */
export const CARD_EXTENSION = 'cds-trial-matcher';

/** What this service's extension on a card says. */
export interface CardExtension {
  readonly trial: string;
  readonly status: string;
  readonly rulesVersion?: string;
}

/**
 * This service's extension of a card, if it has one.
 * @param card - a rendered card.
 */
export function cardExtension(card: Card): CardExtension | undefined {
  const value = card.extension?.[CARD_EXTENSION] as Partial<CardExtension> | undefined;
  return typeof value?.trial === 'string' && typeof value.status === 'string'
    ? (value as CardExtension)
    : undefined;
}

/**
 * One card per trial the patient may qualify for (eligible or needs-review): trials whose protocol
 * criteria are published first, then eligible ones, then by the share of computable criteria
 * passed, then by trial id. No card for ineligible trials,
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
      // A trial with decided criteria before one of which only registry checks are known; then
      // eligible first, then the share of computable criteria passed; on a tie, the trial whose
      // record decided more criteria (18 of 18 says more than 2 of 2), then the trial id.
      .sort(
        (a, b) =>
          Number(!a.trial.criteriaPublished) - Number(!b.trial.criteriaPublished) ||
          Number(a.result.status !== 'eligible') - Number(b.result.status !== 'eligible') ||
          b.share - a.share ||
          b.passed - a.passed ||
          a.trial.id.localeCompare(b.trial.id),
      )
      .map(({ result, trial }) =>
        renderTrialCard(result, trial, screening, evidenceIndex(), context),
      )
  );
}

/** A card this service issued and the trial it is about: what the card ledger remembers. */
export interface IssuedCard {
  readonly uuid: string;
  readonly trialId: string;
  /** The rules version on the card (issue 18). */
  readonly rulesVersion?: string;
}

/**
 * The card uuid and trial id of each rendered card (the trial is the card's `source.topic.code`).
 * @param cards - cards from renderCards.
 */
export function issuedCards(cards: readonly Card[]): IssuedCard[] {
  return cards.flatMap((card) =>
    card.uuid !== undefined && card.source.topic?.system === REGISTRY
      ? [
          {
            uuid: card.uuid,
            trialId: card.source.topic.code,
            ...(cardExtension(card)?.rulesVersion !== undefined
              ? { rulesVersion: cardExtension(card)?.rulesVersion as string }
              : {}),
          },
        ]
      : [],
  );
}

/** The configurable part of CardContext (from the service configuration). */
export type CardOptions = Pick<CardContext, 'showNotRecruiting' | 'smartLink'>;

/**
 * Why a criterion could not be decided from the record (issue 12): the types read only in part,
 * with the reason ("the record was too long to read in full: Observation").
 */
const PARTIAL_REASON_TEXT: Readonly<
  Record<NonNullable<CriterionResult['partialRecord']>[number]['reason'], string>
> = {
  'too-long': 'the record was too long to read in full',
  withheld: 'the EHR withheld part of the record',
  'unresolved-medication': 'a medication on record could not be identified',
};

function partialRecordLines(criterion: CriterionResult): string[] {
  const byReason = new Map<string, string[]>();
  for (const { type, reason } of criterion.partialRecord ?? []) {
    const text = PARTIAL_REASON_TEXT[reason];
    byReason.set(text, [...(byReason.get(text) ?? []), type]);
  }
  return [...byReason].map(([text, types]) => `  - not decided: ${text} (${types.join(', ')})`);
}
