import type { Server } from 'node:http';
import * as cqlRuntime from './cql-runtime/install.js';
import { startService } from './service.js';
import { configErrorLine, loadConfig, loadDotEnv, type Config } from './config.js';
import { createLogger, type Logger } from './http/logger.js';
import { ConfigurationError } from './shared/errors.js';

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
    // The cql-execution overrides, before anything evaluates CQL (throws on other library versions).
    cqlRuntime.install();
    // `.env` in the working directory, when there is one; the environment wins over it.
    loadDotEnv();
    config = loadConfig(process.env);
  } catch (error) {
    // One line naming the variable (ConfigurationError), never a stack trace.
    process.stderr.write(`${configErrorLine(error as Error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);
  const failed = (error: unknown): never => {
    // A definition file that cannot be used (ELM, trials, hooks): one line saying which, no stack.
    if (error instanceof ConfigurationError)
      logger.fatal({ error: configErrorLine(error) }, 'start-up failed');
    else logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  };
  try {
    // Listens at once (/healthz, /readyz 503, /metrics); ready once everything is built.
    const service = await startService(config, logger);
    shutdownOnSignals(service.server, config, logger);
    await service.ready.catch(failed);
  } catch (error) {
    failed(error);
  }
}

await main();
