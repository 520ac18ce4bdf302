import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config.js';
import type { ServiceDefinition } from './cds-hooks/service-definition.js';
import { NotFoundError } from './shared/errors.js';
import { cdsServicesRouter, type CdsServicesRouterDeps } from './http/cds-services-router.js';
import { requireClientAuth } from './http/client-auth.js';
import type { ClientAuthenticator } from './security/client-auth.js';
import { cors } from './http/cors.js';
import { errorHandler } from './http/error-handler.js';
import { cdsServicesBodyParser } from './http/json-body.js';
import type { Logger } from './http/logger.js';
import { locals, requestContext } from './http/request-context.js';
import { OVERRIDE_REASONS } from './cards/render-cards.js';
import type { FeedbackStore } from './feedback/feedback-store.js';
import { feedbackRouter } from './http/routes/feedback.js';
import type { ServiceMetrics } from './http/metrics.js';
import type { EnginePoolStats } from './engine/engine-pool.js';

/** Everything the app needs, built once by main (or by a test). */
export interface AppDeps extends CdsServicesRouterDeps {
  readonly config: Pick<Config, 'corsOrigins' | 'bodyLimit' | 'publicBaseUrl'>;
  /**
   * Client authentication (issue 5): when present, every call under /cds-services needs a
   * trusted JWT; absent, calls are accepted (the embedded demo; main warns at start-up).
   */
  readonly authenticator?: ClientAuthenticator;
  readonly logger: Logger;
  readonly services: readonly ServiceDefinition[];
  /** The embedded demo FHIR server, mounted at /demo/fhir when present. */
  readonly demoFhir?: RequestHandler;
  /** Feedback (issue 4): where POST /cds-services/{id}/feedback stores entries; off when absent. */
  readonly feedbackStore?: FeedbackStore;
  /** Feedback bodies waiting to be stored at most (default DEFAULT_MAX_PENDING_FEEDBACK). */
  readonly feedbackMaxPending?: number;
  /** Metrics (issue 18): GET /metrics, and every request observed; off when absent. */
  readonly metrics?: ServiceMetrics;
}

/** What GET /readyz checked. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, 'ok' | 'starting' | 'failed'>>;
}

/** How long a readiness check waits for the database. */
const READINESS_STORE_TIMEOUT_MS = 2000;

/**
 * Readiness (issue 18): the engine has trials and (a pool) a worker with its engine built, and the
 * feedback store answers a query. The app exists only once everything is built (main serves a
 * "starting" app before), so these are the checks that can change while it runs.
 */
async function checkReadiness(deps: AppDeps): Promise<ReadinessReport> {
  const checks: Record<string, 'ok' | 'starting' | 'failed'> = {};
  checks.trials = deps.engine.trials.length > 0 ? 'ok' : 'failed';
  const pool = deps.engine as { stats?: () => EnginePoolStats };
  if (typeof pool.stats === 'function') checks.engine = pool.stats().ready > 0 ? 'ok' : 'starting';
  else checks.engine = 'ok';
  const ping = deps.feedbackStore?.ping?.bind(deps.feedbackStore);
  if (ping !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error('timeout'));
      }, READINESS_STORE_TIMEOUT_MS);
    });
    try {
      await Promise.race([ping(), late]);
      checks.store = 'ok';
    } catch {
      checks.store = 'failed';
    } finally {
      clearTimeout(timer);
    }
  }
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}

/**
 * GET /metrics in the Prometheus text format.
 * @param metrics - the registry's owner.
 */
export function metricsHandler(metrics: ServiceMetrics): RequestHandler {
  return async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(await metrics.registry.metrics());
  };
}

/** Where the embedded FHIR server is mounted. */
export const DEMO_FHIR_PATH = '/demo/fhir';

/**
 * Builds the express app; it does not listen (main does, tests use supertest or port 0).
 * @param deps - configuration, logger, service definitions, engine and data source.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestContext(deps.logger));
  if (deps.metrics !== undefined) app.use(deps.metrics.observeRequests);
  app.use(cors(deps.config.corsOrigins));

  // Liveness: the process answers.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness (issue 18): 503 while something the calls need is not ready.
  app.get('/readyz', async (_req, res) => {
    const report = await checkReadiness(deps);
    res.setHeader('Cache-Control', 'no-store');
    res.status(report.ready ? 200 : 503).json({
      status: report.ready ? 'ready' : 'not-ready',
      checks: report.checks,
    });
  });
  if (deps.metrics !== undefined) app.get('/metrics', metricsHandler(deps.metrics));
  const metrics = deps.metrics;
  const onHookAnswered =
    metrics === undefined
      ? deps.onHookAnswered
      : (event: Parameters<NonNullable<AppDeps['onHookAnswered']>>[0]) => {
          metrics.hookAnswered(event);
          deps.onHookAnswered?.(event);
        };

  // Every OPTIONS is answered here, before authentication and any body parsing (issue 15): the
  // preflight by cors(), any other with the methods allowed.
  app.options(/.*/, (_req, res) => {
    res.setHeader('Allow', 'GET, POST, OPTIONS');
    res.status(204).end();
  });

  if (deps.authenticator !== undefined)
    app.use('/cds-services', requireClientAuth(deps.authenticator, deps.config.publicBaseUrl));
  // Feedback (issue 4) {@link https://cds-hooks.hl7.org/2.0/#feedback}: mounted before the hook
  // calls' parser, it reads its own body with a small limit (issue 15).
  if (deps.feedbackStore !== undefined) {
    const serviceIds = new Set(deps.services.map((s) => s.id));
    app.use(
      feedbackRouter({
        store: deps.feedbackStore,
        isKnownService: (id) => serviceIds.has(id),
        offeredReasons: OVERRIDE_REASONS,
        ...(deps.feedbackMaxPending !== undefined ? { maxPending: deps.feedbackMaxPending } : {}),
        onRecorded: (serviceId, result, res) => {
          metrics?.feedbackRecorded(result);
          locals(res).log.info({ serviceId, ...result }, 'feedback recorded');
        },
      }),
    );
  }
  // Hook calls stay raw bytes when a worker can parse them (prefetched-call.ts).
  app.use(
    '/cds-services',
    cdsServicesBodyParser({
      limit: deps.config.bodyLimit,
      rawHookCalls: deps.prefetchedCalls !== undefined,
    }),
  );
  app.use(
    cdsServicesRouter(deps.services, {
      ...deps,
      ...(onHookAnswered !== undefined ? { onHookAnswered } : {}),
    }),
  );
  if (deps.demoFhir !== undefined) app.use(DEMO_FHIR_PATH, deps.demoFhir);

  app.use(() => {
    throw new NotFoundError('no such endpoint');
  });
  app.use(errorHandler);
  return app;
}
