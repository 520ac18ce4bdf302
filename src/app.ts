import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config.js';
import type { ServiceDefinition } from './cds-hooks/service-definition.js';
import { NotFoundError } from './cds-hooks/errors.js';
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
  app.use(cors(deps.config.corsOrigins));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

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
        onRecorded: (serviceId, result, res) => {
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
  app.use(cdsServicesRouter(deps.services, deps));
  if (deps.demoFhir !== undefined) app.use(DEMO_FHIR_PATH, deps.demoFhir);

  app.use(() => {
    throw new NotFoundError('no such endpoint');
  });
  app.use(errorHandler);
  return app;
}
