/**
 * Runs one patient record, in the shapes EHRs write, two ways: through the service (no prefetch:
 * every key read from a realistic FHIR server with the real fhir-kit adapter) and through the
 * `screen` CLI (the same record as one Bundle file). Both give every criterion of every trial, in
 * full (no stop at the first ruling-out), keyed `TRIAL/cohort/criterion`.
 * Call at the top level of a test file: the engine and the server are built once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPatientRecord } from '../../src/cds-hooks/patient-view.js';
import { parsePatientViewRequest } from '../../src/cds-hooks/request.js';
import type { ScreenReport } from '../../src/cli/screen.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { CriterionResult, PatientScreening } from '../../src/domain/screening.js';
import { FhirKitDataSource } from '../../src/fhir/fhir-kit-data-source.js';
import { AS_OF } from './fhir-builders.js';
import { SERVICE } from './http-deps.js';
import {
  startRealisticFhirServer,
  type RealisticFhirServer,
  type RealisticServerOptions,
} from './realistic-fhir-server.js';
import { inProcessScreenDeps, screenCli } from './screen-cli.js';

type Json = Record<string, unknown>;

/** Every criterion's result (and reason, when the record could not be read for it). */
export type Statuses = Record<string, string>;

export interface HarnessRun {
  readonly service: Statuses;
  readonly cli: Statuses;
  /** The service's screening, for evidence and reasons. */
  readonly screening: PatientScreening;
}

export interface RealRecordHarness {
  /**
   * Screens the record both ways.
   * @param record - the patient's resources (one Patient), Medications included.
   * @param server - how the FHIR server behaves for this record.
   * @param limits - the service's reading limits (pages, resources per search).
   */
  run(
    record: readonly Json[],
    server?: RealisticServerOptions,
    limits?: { readonly maxPages?: number; readonly maxResources?: number },
  ): Promise<HarnessRun>;
  /** Screens the record with `screen --fhir-server` (the population reader) from the same server. */
  population(record: readonly Json[], server?: RealisticServerOptions): Promise<Statuses>;
}

function statusesOf(screening: Pick<PatientScreening, 'trials'>): Statuses {
  const out: Statuses = {};
  for (const trial of screening.trials)
    for (const c of trial.criteria as CriterionResult[])
      out[`${trial.id}/${c.cohort ?? ''}/${c.id}`] = c.result;
  return out;
}

export function realRecordHarness(): RealRecordHarness {
  let engine: EligibilityEngine;
  const servers: RealisticFhirServer[] = [];
  let dir: string;
  beforeAll(() => {
    engine = loadEligibilityEngine();
    dir = mkdtempSync(join(tmpdir(), 'real-records-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all(servers.map((s) => s.close()));
  });

  return {
    async run(record, serverOptions = {}, limits = {}) {
      const patient = record.find((r) => r.resourceType === 'Patient');
      if (typeof patient?.id !== 'string') throw new Error('the record holds no Patient');
      const server = await startRealisticFhirServer(serverOptions);
      servers.push(server);
      server.load(record);
      const dataSource = new FhirKitDataSource({
        timeoutMs: 10_000,
        maxPages: limits.maxPages ?? 10,
        ...(limits.maxResources !== undefined ? { maxResources: limits.maxResources } : {}),
      });
      let screening: PatientScreening;
      try {
        const request = parsePatientViewRequest(
          {
            hook: 'patient-view',
            hookInstance: randomUUID(),
            fhirServer: server.base,
            context: { userId: 'Practitioner/example', patientId: patient.id },
          },
          'patient-view',
        );
        const read = await readPatientRecord(SERVICE, request, { engine, dataSource });
        screening = await engine.screen(read.patient, AS_OF);
      } finally {
        await dataSource.close();
      }

      const file = join(dir, `${randomUUID()}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'collection',
          entry: record.map((resource) => ({
            // A server behind a proxy names its resources by its public base.
            ...(serverOptions.publicBase !== undefined && typeof resource.id === 'string'
              ? {
                  fullUrl: `${serverOptions.publicBase}/${String(resource.resourceType)}/${resource.id}`,
                }
              : {}),
            resource,
          })),
        }),
      );
      const cli = await screenCli(
        ['--as-of', AS_OF, '--format', 'json', file],
        inProcessScreenDeps(engine),
      );
      if (cli.code !== 0) throw new Error(`screen exited ${cli.code}: ${cli.err}`);
      const report = JSON.parse(cli.out) as ScreenReport;
      const screened = report.patients[0];
      if (screened === undefined) throw new Error('screen printed no patient');
      return { service: statusesOf(screening), cli: statusesOf(screened), screening };
    },

    async population(record, serverOptions = {}) {
      const server = await startRealisticFhirServer(serverOptions);
      servers.push(server);
      server.load(record);
      const run = await screenCli(
        ['--as-of', AS_OF, '--fhir-server', server.base, '--patients', 'gender=female'],
        inProcessScreenDeps(engine),
      );
      if (run.code !== 0) throw new Error(`screen exited ${run.code}: ${run.err}`);
      const screened = (JSON.parse(run.out) as ScreenReport).patients[0];
      if (screened === undefined) throw new Error('screen printed no patient');
      return statusesOf(screened);
    },
  };
}
