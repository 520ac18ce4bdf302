/** The whole service over real HTTP on 127.0.0.1 port 0: real engine, embedded FHIR server, fhir-kit. */
import { today as localToday } from '../../src/shared/today.js';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp, DEMO_FHIR_PATH, type AppDeps } from '../../src/app.js';
import { DEFAULT_DEMO_DIR } from '../../src/config.js';
import { createDemoFhirServer } from '../../src/demo/demo-fhir-server.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { LogCapture, SERVICES } from './http-deps.js';

export interface RunningService {
  readonly base: string;
  readonly fhirBase: string;
  readonly logs: LogCapture;
  readonly today: string;
  close(): Promise<void>;
}

/**
 * @param extraDeps - more deps (issue 5: authenticator, fhirServerPolicy, budget), built once the
 *   port, and so the service's base URL, is known.
 */
export async function startService(
  extraDeps?: (urls: { base: string; fhirBase: string }) => Partial<AppDeps>,
): Promise<RunningService> {
  const today = localToday();
  const logs = new LogCapture('info');
  const demo = await createDemoFhirServer({
    dataDirs: [
      { dir: join(DEFAULT_DEMO_DIR, 'patients'), shiftDates: true },
      { dir: join(DEFAULT_DEMO_DIR, 'synthea'), shiftDates: false },
    ],
    mountPath: DEMO_FHIR_PATH,
    today,
  });
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app = createApp({
    config: { corsOrigins: [], bodyLimit: '5mb' },
    logger: logs.logger,
    services: SERVICES,
    engine: loadEligibilityEngine(),
    dataSource: new FhirKitDataSource({ timeoutMs: 10_000, maxPages: 10 }),
    newId: randomUUID,
    today: () => today,
    demoFhir: demo.handler,
    ...extraDeps?.({ base, fhirBase: `${base}${DEMO_FHIR_PATH}` }),
  });
  server.on('request', app);
  return {
    base,
    fhirBase: `${base}${DEMO_FHIR_PATH}`,
    logs,
    today,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
