import type { Card } from '../cards/card.js';
import { issuedCards, renderCards, type CardOptions } from '../cards/render-cards.js';
import type { EligibilityEngine } from '../engine/eligibility-engine.js';
import type { PatientScreening } from '../domain/screening.js';
import type { PatientBundle } from '../fhir/patient-bundle.js';
import type { PartialTypes } from '../fhir/partial-record.js';
import type { FhirServerPolicy } from '../security/fhir-server-policy.js';
import type { TrustedIssuer } from '../security/trusted-issuers.js';
import type { CardLedger } from '../feedback/feedback-store.js';
import { toPatientBundle } from '../fhir/patient-bundle.js';
import { EngineDeadlineError } from '../shared/errors.js';
import type { PatientDataSource } from '../fhir/patient-data-source.js';
import { InvalidRequestError, PrefetchUnavailableError } from '../shared/errors.js';
import { resolvePrefetch, type PrefetchKeyReport, type ResolvedPrefetch } from './prefetch.js';
import type { PatientViewRequest } from './request.js';
import type { ServiceDefinition } from './service-definition.js';

/**
 * The engine as the hook handler uses it: the in-process engine, or the worker pool, which
 * also takes a deadline and a signal and abandons the evaluation past them (issue 5, time budget).
 */
export interface ScreeningEngine {
  readonly trials: EligibilityEngine['trials'];
  readonly rulesVersion?: EligibilityEngine['rulesVersion'];
  readonly reads?: EligibilityEngine['reads'];
  screen(
    patient: PatientBundle,
    asOf: string,
    trialIds?: readonly string[],
    options?: {
      readonly signal?: AbortSignal;
      readonly deadline?: number;
      readonly stopAtIneligible?: boolean;
    },
  ): Promise<PatientScreening>;
}

/** Per call: who called and until when (issue 5). */
export interface CallScope {
  /** Cancels FHIR reads and the evaluation (time budget, client gone). */
  readonly signal?: AbortSignal;
  /** `Date.now()` past which the evaluation is abandoned. */
  readonly deadline?: number;
  /** The authenticated client, when authentication is on. */
  readonly client?: TrustedIssuer;
}

/** What answering a patient-view call needs, built once in main (or by a test). */
export interface PatientViewDeps {
  readonly engine: ScreeningEngine;
  /** Which FHIR servers may be read (the SSRF guard); absent: any (tests only). */
  readonly fhirServerPolicy?: FhirServerPolicy;
  /** Resources per patient, at most (FHIR_MAX_RESOURCES). */
  readonly maxResources?: number;
  readonly dataSource: PatientDataSource;
  /** Card and suggestion uuids. */
  readonly newId: () => string;
  /** The screening date, YYYY-MM-DD. */
  readonly today: () => string;
  /** Card options from the configuration (issue 4). */
  readonly cardOptions?: CardOptions;
  /** Remembers which trial each issued card uuid is about, for feedback (issue 4). */
  readonly cardLedger?: CardLedger;
}

/** The answer and what to log about it (counts and ids only, never patient data). */
export interface PatientViewResult {
  readonly response: { readonly cards: Card[] };
  readonly summary: {
    readonly prefetch: readonly PrefetchKeyReport[];
    readonly resources: number;
    readonly trials: number;
    readonly cards: number;
    readonly notes: number;
    /** Criteria whose CQL failed on this record (unknown on the cards; issue 15 item 5). */
    readonly evaluationErrors: number;
    /** Resource types read only in part, and why (types and reasons only; issue 12). */
    readonly partial?: PartialTypes;
    readonly prefetchMs: number;
    readonly screenMs: number;
  };
}

/**
 * Records which trial each issued card is about, for feedback (issue 4), before the cards go out:
 * feedback on a card may reach another replica a moment later (issue 17).
 */
export async function rememberIssuedCards(
  deps: Pick<PatientViewDeps, 'cardLedger'>,
  service: ServiceDefinition,
  hookInstance: string,
  cards: readonly Card[],
): Promise<void> {
  await deps.cardLedger?.remember({
    serviceId: service.id,
    hookInstance,
    cards: issuedCards(cards),
  });
}

/** The record a call is answered from, and how it was read. */
export interface PatientRecord {
  readonly prefetch: ResolvedPrefetch;
  readonly patient: PatientBundle;
}

/**
 * Reads the patient's record for a call: the prefetch the client sent, the rest fetched from its
 * FHIR server, made into the engine's bundle (only what the engine reads).
 * @throws as resolvePrefetch; PrefetchUnavailableError when there is no Patient; InvalidRequestError
 *   when the Patient is not the one in context.
 */
export async function readPatientRecord(
  service: ServiceDefinition,
  request: PatientViewRequest,
  deps: Pick<PatientViewDeps, 'engine' | 'fhirServerPolicy' | 'maxResources' | 'dataSource'>,
  scope: CallScope = {},
): Promise<PatientRecord> {
  const { signal, client } = scope;
  const policy = deps.fhirServerPolicy;
  const prefetch = await resolvePrefetch(service, request, deps.dataSource, signal, {
    ...(policy !== undefined
      ? { allowFhirServer: (fhirServer: string) => policy.allows(fhirServer, client) }
      : {}),
    ...(deps.maxResources !== undefined ? { maxResources: deps.maxResources } : {}),
  });
  signal?.throwIfAborted();
  const patients = prefetch.resources.filter((r) => r.resourceType === 'Patient');
  if (patients.length === 0)
    throw new PrefetchUnavailableError('the Patient resource could not be obtained', {
      expression: ['context.patientId'],
    });
  if (patients.some((p) => p.id !== request.context.patientId))
    throw new InvalidRequestError('the Patient resource does not match context.patientId', {
      expression: ['context.patientId'],
    });

  // Only what the engine can read is normalised and handed over (cards cite only that).
  const patient = toPatientBundle(
    {
      resourceType: 'Bundle',
      type: 'collection',
      entry: prefetch.resources.map((resource) => ({ resource })),
    },
    deps.engine.reads,
    { partial: prefetch.partial, fullUrls: prefetch.fullUrls },
  );
  return { prefetch, patient };
}

/**
 * Answers a patient-view call: prefetch (fetching what is missing), one patient bundle, the
 * eligibility engine, one card per trial the patient may qualify for.
 * {@link https://cds-hooks.hl7.org/2.0/#cds-service-response}
 */
export async function answerPatientView(
  service: ServiceDefinition,
  request: PatientViewRequest,
  deps: PatientViewDeps,
  scope: CallScope = {},
): Promise<PatientViewResult> {
  const started = performance.now();
  const { signal, deadline } = scope;
  const { prefetch, patient } = await readPatientRecord(service, request, deps, scope);
  const prefetched = performance.now();
  // Cards are for trials the patient may qualify for: a trial ruled out needs no checklist.
  const screening = await deps.engine.screen(patient, deps.today(), undefined, {
    stopAtIneligible: true,
    ...(signal !== undefined ? { signal } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  });
  const screened = performance.now();
  const cards = renderCards(screening, deps.engine.trials, {
    bundle: patient.bundle,
    newId: deps.newId,
    ...deps.cardOptions,
    userId: request.context.userId,
    ...(deps.engine.rulesVersion !== undefined ? { rulesVersion: deps.engine.rulesVersion } : {}),
  });
  // Rendering a large record takes time too: past the deadline no card is issued (nor remembered).
  if (deadline !== undefined && Date.now() > deadline)
    throw new EngineDeadlineError('the call passed its deadline while rendering cards');
  await rememberIssuedCards(deps, service, request.hookInstance, cards);
  return {
    response: { cards },
    summary: {
      prefetch: prefetch.report,
      resources: prefetch.resources.length,
      trials: screening.trials.length,
      cards: cards.length,
      notes: patient.notes.length,
      evaluationErrors: screening.trials.reduce(
        (sum, trial) => sum + trial.criteria.filter((c) => c.evaluationError === true).length,
        0,
      ),
      ...(patient.partial !== undefined ? { partial: patient.partial } : {}),
      prefetchMs: Math.round(prefetched - started),
      screenMs: Math.round(screened - prefetched),
    },
  };
}
