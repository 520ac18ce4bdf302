import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createApp, DEMO_FHIR_PATH } from './app.js';
import { loadConfig, type Config } from './config.js';
import { loadServiceDefinitions, withFetchPlan } from './cds-hooks/service-definition.js';
import { createDemoFhirServer } from './demo/demo-fhir-server.js';
import { createEnginePool } from './engine/engine-pool.js';
import { loadEligibilityEngine, loadRetrievesAndPlan } from './engine/load-engine.js';
import { FhirKitDataSource } from './fhir/fhir-kit-data-source.js';
import { createLogger, type Logger } from './http/logger.js';
import { createHttpServer } from './http/server.js';
import { nonFatalLedger } from './feedback/feedback-store.js';
import { openFeedbackStores } from './feedback/open-feedback-store.js';
import { createClientAuthenticator } from './security/client-auth.js';
import { createFhirServerPolicy, demoFhirServerBases } from './security/fhir-server-policy.js';

/** Today's date in the process time zone (TZ): the screening date criteria count back from. */
function today(): string {
  return new Date().toLocaleDateString('en-CA');
}

/**
 * Builds every dependency once, listens, and shuts down gracefully on SIGTERM/SIGINT.
 * @param config - the parsed configuration.
 * @param logger - the process logger.
 */
export async function start(config: Config, logger: Logger): Promise<Server> {
  const started = Date.now();
  const engineOptions = {
    ...(config.cqlDir !== undefined ? { cqlDir: config.cqlDir } : {}),
    siteCodes: config.siteCodes,
  };
  // Templates that ask for the site's mapped codes too (withFetchPlan).
  const { retrieves, plan } = loadRetrievesAndPlan(engineOptions);
  const services = withFetchPlan(loadServiceDefinitions(config.hooksDir), retrieves, plan);
  // Evaluation off the HTTP thread, on every core (issue 7); ENGINE_WORKERS=0 keeps it in-process.
  const pool =
    config.engineWorkers === 0
      ? undefined
      : await createEnginePool({ ...engineOptions, size: config.engineWorkers });
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
  // Cards and feedback (issue 4): one database for feedback and the card ledger, SQLite or (issue
  // 17, replicas) PostgreSQL, which also holds the JWT replay cache.
  const stores = await openFeedbackStores(config, (error) => {
    logger.warn({ err: error }, 'the database is unavailable');
  });
  logger.info({ store: stores.description }, 'feedback store open');
  // SQLite closes synchronously here (a clean WAL); PostgreSQL connections end with the process.
  process.once('exit', () => {
    void stores.close();
  });
  const feedbackDeps = {
    feedbackStore: stores.feedbackStore,
    cardLedger: nonFatalLedger(stores.cardLedger, (error) => {
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
        ...(stores.replayCache !== undefined ? { replayCache: stores.replayCache } : {}),
        jwks: { timeoutMs: config.jwksTimeoutMs, maxResponseBytes: 1024 * 1024 },
      })
    : undefined;
  let listeningPort = config.port;
  const fhirServerPolicy = createFhirServerPolicy({
    authenticated,
    allowlist: () =>
      config.fhirServerAllowlist ??
      (config.demoFhir
        ? demoFhirServerBases(listeningPort, DEMO_FHIR_PATH, config.publicBaseUrl)
        : []),
  });
  const app = createApp({
    ...feedbackDeps,
    config,
    logger,
    services,
    engine,
    // With workers, calls with a complete prefetch are parsed and answered there (issue 7).
    ...(pool !== undefined ? { prefetchedCalls: pool } : {}),
    dataSource,
    newId: randomUUID,
    today,
    ...(authenticator !== undefined ? { authenticator } : {}),
    fhirServerPolicy,
    maxResources: config.fhirMaxResources,
    requestBudgetMs: config.requestBudgetMs,
    ...(demo !== undefined ? { demoFhir: demo.handler } : {}),
  });

  const server = createHttpServer(app, config, (dropped) => {
    logger.warn(
      { dropped, maxConnections: config.maxConnections },
      'connections closed on arrival: MAX_CONNECTIONS are open',
    );
  });
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  listeningPort = port;
  logger.info(
    {
      host: config.host,
      port,
      services: services.map((s) => s.id),
      trials: engine.trials.map((t) => t.id),
      engineWorkers: config.engineWorkers,
      demoFhir:
        demo === undefined
          ? false
          : { path: DEMO_FHIR_PATH, patients: demo.patients.length, resources: demo.resourceCount },
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
  return server;
}

function shutdownOnSignals(server: Server, config: Config, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.warn('shutdown timed out: closing remaining connections');
      server.closeAllConnections();
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    server.close((error) => {
      if (error !== undefined) logger.error({ err: error }, 'error while closing');
      process.exit(error === undefined ? 0 : 1);
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  try {
    const server = await start(config, logger);
    shutdownOnSignals(server, config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
}

await main();
