/**
 * Starting the service (main.ts runs it): the HTTP server listens first, answering `/healthz`
 * (alive), `/readyz` (503 while starting) and `/metrics`, and 503 with `Retry-After` to anything
 * else; the engine pool, trials, demo server and feedback store are built meanwhile, then the
 * full app takes over and `/readyz` answers 200 (issue 18). An orchestrator so sees a live,
 * not-yet-ready process instead of a closed port, and routes traffic only once it is ready.
 */
import { randomUUID } from 'node:crypto';
import type { RequestListener, Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { createApp, DEMO_FHIR_PATH, metricsHandler } from './app.js';
import type { Config } from './config.js';
import { loadServiceDefinitions, withFetchPlan } from './cds-hooks/service-definition.js';
import { createDemoFhirServer } from './demo/demo-fhir-server.js';
import { createEnginePool, type EnginePool } from './engine/engine-pool.js';
import { PREFETCHED_CALL_JOB, prefetchedCallsOn } from './cds-hooks/prefetched-call.js';
import { loadEligibilityEngine, loadRetrievesAndPlan } from './engine/load-engine.js';
import { FhirKitDataSource } from './fhir/fhir-kit-data-source.js';
import type { Logger } from './http/logger.js';
import { createMetrics, type ServiceMetrics } from './http/metrics.js';
import { requestContext } from './http/request-context.js';
import { createHttpServer } from './http/server.js';
import { nonFatalLedger } from './feedback/feedback-store.js';
import { openFeedbackStores, type OpenedStores } from './feedback/open-feedback-store.js';
import { createClientAuthenticator } from './security/client-auth.js';
import { createFhirServerPolicy, demoFhirServerBases } from './security/fhir-server-policy.js';
import { today } from './shared/today.js';

/** What tests replace (the pool, to hold it back and see the service before it is ready). */
export interface StartOverrides {
  readonly createEnginePool?: typeof createEnginePool;
}

export interface StartedService {
  readonly server: Server;
  /** The port listened on (PORT=0 picks a free one). */
  readonly port: number;
  readonly metrics: ServiceMetrics;
  /** Resolves when the full app serves (`/readyz` 200); rejects when building it failed. */
  readonly ready: Promise<void>;
  /** Stops listening and releases the pool and the stores (tests; main exits instead). */
  close(): Promise<void>;
}

/**
 * The app served while the service starts: alive, not ready, metrics; anything else 503.
 * @param logger - the process logger.
 * @param metrics - the service's metrics.
 */
function startingApp(logger: Logger, metrics: ServiceMetrics): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestContext(logger));
  app.use(metrics.observeRequests);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.status(503).json({ status: 'starting' });
  });
  app.get('/metrics', metricsHandler(metrics));
  app.use((_req, res) => {
    res
      .status(503)
      .setHeader('Retry-After', '5')
      .json({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient', diagnostics: 'the service is starting' }],
      });
  });
  return app;
}

/**
 * Listens, then builds every dependency once and hands the requests to the full app.
 * @param config - the parsed configuration.
 * @param logger - the process logger.
 * @param overrides - for tests.
 */
export async function startService(
  config: Config,
  logger: Logger,
  overrides: StartOverrides = {},
): Promise<StartedService> {
  const started = Date.now();
  const metrics = createMetrics();
  let handler: RequestListener = startingApp(logger, metrics);
  const server = createHttpServer(
    (req, res) => {
      handler(req, res);
    },
    config,
    (dropped) => {
      logger.warn(
        { dropped, maxConnections: config.maxConnections },
        'connections closed on arrival: MAX_CONNECTIONS are open',
      );
    },
  );
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.info({ host: config.host, port }, 'starting: /healthz, /readyz and /metrics answer');

  let pool: EnginePool | undefined;
  let stores: OpenedStores | undefined;
  const build = async (): Promise<void> => {
    const engineOptions = {
      ...(config.cqlDir !== undefined ? { cqlDir: config.cqlDir } : {}),
      siteCodes: config.siteCodes,
    };
    // Templates that ask for the site's mapped codes too (withFetchPlan).
    const { retrieves, plan } = loadRetrievesAndPlan(engineOptions);
    const services = withFetchPlan(loadServiceDefinitions(config.hooksDir), retrieves, plan);
    // Evaluation off the HTTP thread, on every core (issue 7); ENGINE_WORKERS=0 keeps it in-process.
    pool =
      config.engineWorkers === 0
        ? undefined
        : await (overrides.createEnginePool ?? createEnginePool)({
            ...engineOptions,
            size: config.engineWorkers,
            jobs: [PREFETCHED_CALL_JOB],
          });
    if (pool !== undefined) metrics.setEngine(pool);
    const engine = pool ?? loadEligibilityEngine(engineOptions);
    const dataSource = new FhirKitDataSource({
      timeoutMs: config.fhirTimeoutMs,
      maxPages: config.fhirMaxPages,
      maxResponseBytes: config.fhirMaxBodyBytes,
      maxResources: config.fhirMaxResources,
      onTruncated: () => {
        logger.warn(
          { maxPages: config.fhirMaxPages, maxResources: config.fhirMaxResources },
          'a FHIR search was cut at FHIR_MAX_PAGES or FHIR_MAX_RESOURCES: its type is read as partial',
        );
      },
      onRead: metrics.fhirRead,
    });
    const demo = config.demoFhir
      ? await createDemoFhirServer({
          dataDirs: [
            { dir: join(config.demoDir, 'patients'), shiftDates: true },
            { dir: join(config.demoDir, 'synthea'), shiftDates: false },
          ],
          today: today(),
          mountPath: DEMO_FHIR_PATH,
          ...(config.publicBaseUrl !== undefined ? { publicBaseUrl: config.publicBaseUrl } : {}),
        })
      : undefined;
    // Cards and feedback (issue 4): one database for feedback and the card ledger, SQLite or
    // (issue 17, replicas) PostgreSQL, which also holds the JWT replay cache.
    const opened = await openFeedbackStores(config, (error) => {
      logger.warn({ err: error }, 'the database is unavailable');
    });
    stores = opened;
    logger.info({ store: opened.description }, 'feedback store open');
    // SQLite closes synchronously here (a clean WAL); PostgreSQL connections end with the process.
    process.once('exit', () => {
      void opened.close();
    });
    const feedbackDeps = {
      feedbackStore: opened.feedbackStore,
      cardLedger: nonFatalLedger(opened.cardLedger, (error) => {
        logger.warn({ err: error }, 'could not remember issued cards');
      }),
      cardOptions: {
        showNotRecruiting: config.showNotRecruiting,
        ...(config.cardSmartLink !== undefined ? { smartLink: config.cardSmartLink } : {}),
      },
    };
    // Security and limits (issue 5): trusted clients, the FHIR servers they may name.
    const authenticated = config.trustedIssuers.length > 0;
    const authenticator = authenticated
      ? createClientAuthenticator({
          issuers: config.trustedIssuers,
          clockToleranceSec: config.jwtClockSkewSec,
          replayCacheSize: config.jwtReplayCacheSize,
          ...(opened.replayCache !== undefined ? { replayCache: opened.replayCache } : {}),
          jwks: { timeoutMs: config.jwksTimeoutMs, maxResponseBytes: 1024 * 1024 },
        })
      : undefined;
    const fhirServerPolicy = createFhirServerPolicy({
      authenticated,
      allowlist: () =>
        config.fhirServerAllowlist ??
        (config.demoFhir ? demoFhirServerBases(port, DEMO_FHIR_PATH, config.publicBaseUrl) : []),
    });
    handler = createApp({
      ...feedbackDeps,
      config,
      logger,
      services,
      engine,
      // With workers, calls with a complete prefetch are parsed and answered there (issue 7).
      ...(pool !== undefined ? { prefetchedCalls: prefetchedCallsOn(pool) } : {}),
      dataSource,
      newId: randomUUID,
      today,
      ...(authenticator !== undefined ? { authenticator } : {}),
      fhirServerPolicy,
      maxResources: config.fhirMaxResources,
      requestBudgetMs: config.requestBudgetMs,
      ...(demo !== undefined ? { demoFhir: demo.handler } : {}),
      metrics,
    });
    logger.info(
      {
        host: config.host,
        port,
        services: services.map((s) => s.id),
        trials: engine.trials.map((t) => t.id),
        rulesVersion: engine.rulesVersion,
        engineWorkers: config.engineWorkers,
        demoFhir:
          demo === undefined
            ? false
            : {
                path: DEMO_FHIR_PATH,
                patients: demo.patients.length,
                resources: demo.resourceCount,
              },
        startupMs: Date.now() - started,
      },
      'listening',
    );
    if (demo !== undefined)
      logger.warn(
        authenticated
          ? 'the embedded demo FHIR server is on (DEMO_FHIR=true) beside authenticated clients: it is not authenticated'
          : 'the embedded demo FHIR server is on (DEMO_FHIR): switch it off in production',
      );
    if (!authenticated)
      logger.warn(
        {
          fhirServers:
            config.fhirServerAllowlist ??
            (config.demoFhir ? 'the embedded demo server only' : 'none'),
        },
        'no CDS_TRUSTED_ISSUERS: CDS clients are not authenticated (demo only)',
      );
    else
      logger.info(
        { issuers: config.trustedIssuers.map((i) => i.iss), publicBaseUrl: config.publicBaseUrl },
        'CDS clients must present a JWT from a trusted issuer',
      );
  };
  const ready = build();
  return {
    server,
    port,
    metrics,
    ready,
    close: async () => {
      await ready.catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await pool?.close();
      await stores?.close();
    },
  };
}
