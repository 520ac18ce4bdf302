/**
 * Prometheus metrics (issue 18), served at GET /metrics in the text format by prom-client.
 * One Registry per app instance (tests build several apps in one process). Labels never hold a
 * patient identifier, a URL or a token: statuses, outcomes, trial ids and reason categories only.
 *
 * What to alert on is in README "Operate".
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FhirRead } from '../fhir/fhir-read-observer.js';
import type { FeedbackRecordResult } from '../feedback/feedback-store.js';
import type { HookAnswered } from './cds-services-router.js';
import { locals } from './request-context.js';

/** The engine pool's state, read at each scrape. */
export interface EngineGaugeSource {
  stats(): { readonly size: number; readonly busy: number; readonly queued: number };
}

export interface MetricsOptions {
  /** The engine pool, for queue depth and busy workers (absent: evaluation on the HTTP thread). */
  readonly engine?: EngineGaugeSource;
  /** prom-client's process defaults (CPU, memory, event loop lag, GC); default true. */
  readonly processDefaults?: boolean;
}

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Observes every request when it finishes (hook calls, feedback, JWT failures). */
  readonly observeRequests: RequestHandler;
  /** createApp's onHookAnswered: duration, answers given up, cards by trial and status. */
  readonly hookAnswered: (event: HookAnswered) => void;
  /** FhirKitDataSource's onRead. */
  readonly fhirRead: (read: FhirRead) => void;
  /** The feedback route's onRecorded: entries by result. */
  readonly feedbackRecorded: (result: FeedbackRecordResult) => void;
  /** Sets the engine pool read by the queue gauges (main builds it after listening). */
  setEngine(engine: EngineGaugeSource): void;
}

/** Hook call answers that gave no advice although the call was valid. */
const GIVEN_UP = ['budget-exceeded', 'overloaded'] as const;

/** The outcome of a hook call from its status, when the router did not say (an error answer). */
function hookOutcome(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 412) return 'data-unavailable';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'error';
  if (status >= 400) return 'invalid';
  return 'cards';
}

/** The outcome of a feedback request from its status. */
function feedbackOutcome(status: number, shed: boolean): string {
  if (status === 200) return 'recorded';
  if (status === 503) return shed ? 'shed' : 'unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'unknown-service';
  if (status === 413) return 'too-large';
  if (status >= 500) return 'error';
  return 'invalid';
}

/**
 * The service's metrics on a registry of their own.
 * @param options - the engine pool and whether to add the process defaults.
 */
export function createMetrics(options: MetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processDefaults !== false) collectDefaultMetrics({ register: registry });
  let engine = options.engine;

  const hookCalls = new Counter({
    name: 'cds_hook_calls_total',
    help: 'Hook calls (POST /cds-services/{id}) by outcome (cards, budget-exceeded, overloaded, invalid, unauthorized, data-unavailable, unavailable, error) and HTTP status',
    labelNames: ['outcome', 'status'] as const,
    registers,
  });
  const hookSeconds = new Histogram({
    name: 'cds_hook_call_duration_seconds',
    help: 'Time from arrival to answer of hook calls answered 200, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10],
    registers,
  });
  const givenUp = new Counter({
    name: 'cds_hook_answers_given_up_total',
    help: 'Hook calls answered {"cards": []} without an evaluation: the time budget ran out (budget-exceeded) or the engine shed the call (overloaded)',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of GIVEN_UP) givenUp.inc({ reason }, 0);
  const cards = new Counter({
    name: 'cds_cards_total',
    help: 'Cards answered, by trial and screening status (eligible, needs-review)',
    labelNames: ['trial', 'status'] as const,
    registers,
  });
  new Gauge({
    name: 'cds_engine_queue_depth',
    help: 'Evaluations waiting for an engine worker',
    registers,
    collect() {
      this.set(engine?.stats().queued ?? 0);
    },
  });
  new Gauge({
    name: 'cds_engine_workers_busy',
    help: 'Engine workers evaluating (or finishing an evaluation given up on)',
    registers,
    collect() {
      this.set(engine?.stats().busy ?? 0);
    },
  });
  new Gauge({
    name: 'cds_engine_workers',
    help: 'Engine worker threads (0: evaluation on the HTTP thread)',
    registers,
    collect() {
      this.set(engine?.stats().size ?? 0);
    },
  });
  const fhirReads = new Counter({
    name: 'cds_fhir_reads_total',
    help: 'HTTP requests to EHR FHIR servers (each page and redirect), by status class (2xx, 3xx, 4xx, 5xx, error: timeout or network)',
    labelNames: ['status_class'] as const,
    registers,
  });
  const fhirSeconds = new Histogram({
    name: 'cds_fhir_read_duration_seconds',
    help: 'Duration of HTTP requests to EHR FHIR servers, by status class',
    labelNames: ['status_class'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  });
  const jwtFailures = new Counter({
    name: 'cds_jwt_failures_total',
    help: 'Client JWTs refused, by reason category (README "Security")',
    labelNames: ['reason'] as const,
    registers,
  });
  const feedbackRequests = new Counter({
    name: 'cds_feedback_requests_total',
    help: 'Feedback requests by outcome (recorded, invalid, too-large, unknown-service, unauthorized, shed: 503 past the waiting bodies bound, unavailable: 503 database away, error)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const feedbackEntries = new Counter({
    name: 'cds_feedback_entries_total',
    help: 'Feedback entries stored, by result (stored, duplicate, unknown-card)',
    labelNames: ['result'] as const,
    registers,
  });

  const observeRequests: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => {
      const l = locals(res);
      if (l.authFailure !== undefined) jwtFailures.inc({ reason: l.authFailure });
      if (req.method !== 'POST') return;
      const route = l.route ?? (req.route as { path?: unknown } | undefined)?.path;
      const status = res.statusCode;
      if (route === '/cds-services/:id/feedback') {
        feedbackRequests.inc({ outcome: feedbackOutcome(status, l.feedbackShed === true) });
      } else if (route === '/cds-services/:id') {
        hookCalls.inc({ outcome: l.hookOutcome ?? hookOutcome(status), status: String(status) });
      }
    });
    next();
  };

  return {
    registry,
    observeRequests,
    hookAnswered: (event) => {
      hookSeconds.observe({ outcome: event.outcome }, event.elapsedMs / 1000);
      if (event.outcome !== 'cards') givenUp.inc({ reason: event.outcome });
      for (const card of event.cards ?? []) cards.inc({ trial: card.trial, status: card.status });
    },
    fhirRead: (read) => {
      fhirReads.inc({ status_class: read.statusClass });
      fhirSeconds.observe({ status_class: read.statusClass }, read.seconds);
    },
    feedbackRecorded: (result) => {
      feedbackEntries.inc({ result: 'stored' }, result.stored);
      feedbackEntries.inc({ result: 'duplicate' }, result.duplicates);
      feedbackEntries.inc({ result: 'unknown-card' }, result.unknownCards);
    },
    setEngine: (next) => {
      engine = next;
    },
  };
}
