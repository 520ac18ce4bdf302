/**
 * Test doubles for the HTTP layer: deps for createApp, an in-memory PatientDataSource, a fake
 * engine, a captured logger and hook request factories.
 */
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/app.js';
import { loadServiceDefinitions } from '../../src/cds-hooks/service-definition.js';
import { DEFAULT_HOOKS_DIR } from '../../src/config.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import type {
  FhirQuery,
  FhirResourceJson,
  PatientDataSource,
} from '../../src/fhir/patient-data-source.js';
import { FhirUnavailableError } from '../../src/shared/errors.js';
import { createLogger, type Logger } from '../../src/http/logger.js';

export const SERVICES = loadServiceDefinitions(DEFAULT_HOOKS_DIR);
export const SERVICE = SERVICES[0]!;
export const PREFETCH_KEYS = Object.keys(SERVICE.prefetch ?? {});

/** Log lines written during a test, parsed. */
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger;
  constructor(level = 'debug') {
    const lines = this.lines;
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        );
        callback();
      },
    });
    this.logger = createLogger(level, stream);
  }
  get records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** An engine that finds nothing: HTTP tests check the protocol, not eligibility. */
export function fakeEngine(screen?: EligibilityEngine['screen']): EligibilityEngine {
  return {
    trials: [],
    screen:
      screen ??
      ((patient, asOf) => Promise.resolve({ patientId: patient.patientId, asOf, trials: [] })),
  };
}

/** Answers queries from a map; records every call. */
export class MemoryDataSource implements PatientDataSource {
  readonly calls: FhirQuery[] = [];
  constructor(private readonly answers: Readonly<Record<string, FhirResourceJson | Error>> = {}) {}
  fetch(query: FhirQuery): Promise<FhirResourceJson> {
    this.calls.push(query);
    const answer = this.answers[query.query];
    if (answer instanceof Error) return Promise.reject(answer);
    if (answer !== undefined) return Promise.resolve(answer);
    if (query.query.includes('?'))
      return Promise.resolve({ resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] });
    return Promise.reject(new FhirUnavailableError('the FHIR server answered HTTP 404'));
  }
}

export const PATIENT_ID = 'pat-123';
export const PATIENT_NAME = 'Zelda Quintessa';
export const TOKEN = 'secret-access-token-7f3a9c';

export function patientResource(id = PATIENT_ID): FhirResourceJson {
  return {
    resourceType: 'Patient',
    id,
    gender: 'female',
    birthDate: '1990-05-01',
    name: [{ family: PATIENT_NAME.split(' ')[1], given: [PATIENT_NAME.split(' ')[0]] }],
  };
}

export function searchset(...resources: FhirResourceJson[]): FhirResourceJson {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource })),
  };
}

/** Every prefetch key answered: the patient, empty searches for the rest. */
export function fullPrefetch(id = PATIENT_ID): Record<string, unknown> {
  return Object.fromEntries(
    PREFETCH_KEYS.map((key) => [key, key === 'patient' ? patientResource(id) : searchset()]),
  );
}

export function makeCdsRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/example', patientId: PATIENT_ID },
    prefetch: fullPrefetch(),
    ...overrides,
  };
}

export function makeDeps(overrides: Partial<AppDeps> = {}): AppDeps & { logs: LogCapture } {
  const logs = new LogCapture();
  let n = 0;
  return {
    config: { corsOrigins: ['https://sandbox.cds-hooks.org'], bodyLimit: '100kb' },
    logger: logs.logger,
    services: SERVICES,
    engine: fakeEngine(),
    dataSource: new MemoryDataSource(),
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    today: () => '2026-11-22',
    logs,
    ...overrides,
  };
}
