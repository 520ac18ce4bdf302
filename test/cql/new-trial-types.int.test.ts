/**
 * Issue 16 item 3: "a sixth trial is one CQL file and one JSON file", whatever resource types its
 * criteria read. A throwaway trial (no code change): one criterion reads a Procedure (prior
 * splenectomy), one an Immunization (a type no reader of the project listed before). Its CQL
 * directory holds what the trial needs of cql/ (FHIRHelpers, the value sets) and the trial, not the
 * five studies: the build translates every library it finds, and the five add nothing here but
 * ten seconds of translation. Built with the project's build (scripts/cql-build.ts --dir), it is
 * screened through the `screen` CLI from Bundle files and from an NDJSON export, and must pass and
 * fail on the right records. The prefetch templates the build generates ask for both types.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FhirResource, Immunization, Procedure } from 'fhir/r4.js';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { CdsResponseSchema } from '../../src/cards/card.js';
import { loadServiceDefinitions } from '../../src/cds-hooks/service-definition.js';
import type { ScreenReport } from '../../src/cli/screen.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import type { FhirResourceJson } from '../../src/fhir/patient-data-source.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { AS_OF, bundle, daysAgo, patient, yearsAgo } from '../support/fhir-builders.js';
import { makeDeps, searchset } from '../support/http-deps.js';
import { screenCli } from '../support/screen-cli.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'new-trial-types-'));
const cqlDir = join(root, 'cql');
const TRIAL = 'NCT99000016';

const LIBRARY = `library ${TRIAL} version '1.0.0'

using FHIR version '4.0.1'

include FHIRHelpers version '4.0.1' called FHIRHelpers

codesystem "SNOMEDCT": 'http://snomed.info/sct'
codesystem "CVX": 'http://hl7.org/fhir/sid/cvx'

code "Splenectomy": '234319005' from "SNOMEDCT" display 'Splenectomy'
code "MMR vaccine": '03' from "CVX" display 'MMR'

context Patient

define "Splenectomies":
  [Procedure: "Splenectomy"] P where P.status.value = 'completed'

define "PriorSplenectomy": exists "Splenectomies"
define "SplenectomyEvidence": "Splenectomies"

define "LiveVaccines":
  [Immunization: "MMR vaccine"] I where I.status.value = 'completed'

define "NoLiveVaccine": not exists "LiveVaccines"
define "LiveVaccineEvidence": "LiveVaccines"
`;

const TRIAL_JSON = {
  id: TRIAL,
  title: 'A throwaway trial of issue 16 (not a real study)',
  shortTitle: 'Throwaway: splenectomy, no live vaccine',
  product: 'none',
  status: 'RECRUITING',
  library: { name: TRIAL, version: '1.0.0' },
  cohorts: [
    { id: 'all', title: 'Everyone', reason: { code: '234319005', display: 'Splenectomy' } },
  ],
  criteria: [
    {
      id: 'prior-splenectomy',
      kind: 'inclusion',
      text: 'Prior splenectomy.',
      define: 'PriorSplenectomy',
      evidence: 'SplenectomyEvidence',
    },
    {
      id: 'no-live-vaccine',
      kind: 'exclusion',
      text: 'No live vaccine (MMR).',
      define: 'NoLiveVaccine',
      evidence: 'LiveVaccineEvidence',
    },
  ],
};

function splenectomy(id: string, subject: string): Procedure {
  return {
    resourceType: 'Procedure',
    id,
    status: 'completed',
    subject: { reference: `Patient/${subject}` },
    code: {
      coding: [{ system: 'http://snomed.info/sct', code: '234319005', display: 'Splenectomy' }],
    },
    performedDateTime: yearsAgo(3),
  };
}

function mmr(id: string, subject: string): Immunization {
  return {
    resourceType: 'Immunization',
    id,
    status: 'completed',
    patient: { reference: `Patient/${subject}` },
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '03' }] },
    occurrenceDateTime: daysAgo(30),
  };
}

/** The three records: the Procedure only; nothing; the Procedure and an MMR vaccine. */
const RECORDS: Record<string, FhirResource[]> = {
  'p-spleen': [patient({ id: 'p-spleen' }), splenectomy('proc-1', 'p-spleen')],
  'p-none': [patient({ id: 'p-none' })],
  'p-vaccine': [
    patient({ id: 'p-vaccine' }),
    splenectomy('proc-2', 'p-vaccine'),
    mmr('imm-1', 'p-vaccine'),
  ],
};

beforeAll(async () => {
  mkdirSync(join(cqlDir, 'trials'), { recursive: true });
  for (const file of ['FHIRHelpers.cql', 'valuesets.json'])
    cpSync(join('cql', file), join(cqlDir, file));
  mkdirSync(join(root, 'hooks'));
  cpSync('hooks', join(root, 'hooks'), { recursive: true });
  writeFileSync(join(cqlDir, `${TRIAL}.cql`), LIBRARY);
  writeFileSync(join(cqlDir, 'trials', `${TRIAL}.json`), JSON.stringify(TRIAL_JSON, null, 2));
  // The project's build, as `npm run cql:build` runs it, on the copy.
  await run(process.execPath, ['--import', 'tsx', 'scripts/cql-build.ts', '--dir', cqlDir], {
    timeout: 170_000,
  });
}, 180_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The throwaway trial's criterion results by patient, from a `screen --format json` run. */
async function screenResults(
  files: string[],
): Promise<Record<string, Record<string, { result: string; evidence: readonly string[] }>>> {
  const { code, out, err } = await screenCli(['--as-of', AS_OF, '--format', 'json', ...files], {
    env: { CQL_DIR: cqlDir, SCREEN_WORKERS: '0' },
  });
  expect(err).toBe('');
  expect(code).toBe(0);
  const report = JSON.parse(out) as ScreenReport;
  return Object.fromEntries(
    report.patients.map((p) => [
      p.patientId,
      Object.fromEntries(
        (p.trials.find((t) => t.id === TRIAL)?.criteria ?? []).map((c) => [
          c.id,
          { result: c.result, evidence: c.evidence },
        ]),
      ),
    ]),
  );
}

const EXPECTED = {
  'p-spleen': {
    'prior-splenectomy': { result: 'pass', evidence: ['Procedure/proc-1'] },
    'no-live-vaccine': { result: 'pass', evidence: [] },
  },
  'p-none': {
    'prior-splenectomy': { result: 'fail', evidence: [] },
    'no-live-vaccine': { result: 'pass', evidence: [] },
  },
  'p-vaccine': {
    'prior-splenectomy': { result: 'pass', evidence: ['Procedure/proc-2'] },
    'no-live-vaccine': { result: 'fail', evidence: ['Immunization/imm-1'] },
  },
};

describe('a new trial reading a Procedure and an Immunization, with no code change', () => {
  it('is built, and its prefetch templates ask for both types', () => {
    const hooks = JSON.parse(readFileSync(join(root, 'hooks', 'trial-matcher.json'), 'utf8')) as {
      prefetch: Record<string, string>;
    };
    const templates = Object.values(hooks.prefetch);
    expect(templates).toContain('Procedure?patient={{context.patientId}}');
    expect(templates).toContain('Immunization?patient={{context.patientId}}');
  });

  it('the engine reads both types (its reads carry them to the record readers)', () => {
    const engine = loadEligibilityEngine({ cqlDir });
    expect(engine.trials.map((t) => t.id)).toContain(TRIAL);
    expect(engine.reads?.types).toEqual(expect.arrayContaining(['Procedure', 'Immunization']));
  });

  it('passes and fails on the right records, screened from Bundle files', async () => {
    const dir = join(root, 'bundles');
    mkdirSync(dir);
    const files = Object.entries(RECORDS).map(([id, resources]) => {
      const file = join(dir, `${id}.json`);
      writeFileSync(file, JSON.stringify(bundle(...resources)));
      return file;
    });
    expect(await screenResults(files)).toEqual(EXPECTED);
  }, 60_000);

  it('passes and fails on the right records, screened from an NDJSON export', async () => {
    const dir = join(root, 'export');
    mkdirSync(dir);
    const byType = new Map<string, FhirResource[]>();
    for (const resource of Object.values(RECORDS).flat())
      byType.set(resource.resourceType, [...(byType.get(resource.resourceType) ?? []), resource]);
    for (const [type, resources] of byType)
      writeFileSync(
        join(dir, `${type}.ndjson`),
        `${resources.map((r) => JSON.stringify(r)).join('\n')}\n`,
      );
    expect(await screenResults([dir])).toEqual(EXPECTED);
  }, 60_000);

  it('answers a CDS Hooks call from the generated prefetch, citing the Procedure on the card', async () => {
    const services = loadServiceDefinitions(join(root, 'hooks'));
    const app = createApp(
      makeDeps({ services, engine: loadEligibilityEngine({ cqlDir }), today: () => AS_OF }),
    );
    const call = async (id: string) => {
      const [self, ...rest] = RECORDS[id] ?? [];
      const keys = Object.keys(services[0]?.prefetch ?? {});
      const prefetch = Object.fromEntries(
        keys.map((key) => [
          key,
          key === 'patient'
            ? self
            : searchset(
                ...rest
                  .filter(
                    (r) => services[0]?.prefetch?.[key]?.startsWith(`${r.resourceType}?`) === true,
                  )
                  .map((r) => r as unknown as FhirResourceJson),
              ),
        ]),
      );
      const res = await request(app)
        .post(`/cds-services/${services[0]?.id ?? ''}`)
        .send({
          hook: 'patient-view',
          hookInstance: `00000000-0000-4000-8000-00000000000${id.length}`,
          context: { userId: 'Practitioner/example', patientId: id },
          prefetch,
        });
      expect(res.status).toBe(200);
      return CdsResponseSchema.parse(res.body).cards.filter((c) => c.source.topic?.code === TRIAL);
    };
    const [spleen] = await call('p-spleen');
    // The evidence line of the Procedure: its code's text and date (describe-evidence.ts).
    expect(spleen?.detail).toContain(`Splenectomy, ${yearsAgo(3)}`);
    expect(await call('p-vaccine')).toEqual([]);
  }, 60_000);

  it('fails at start-up, naming the library and type, when a retrieve names a type the readers would drop', () => {
    const broken = join(root, 'cql-medication');
    cpSync(cqlDir, broken, { recursive: true });
    const elmFile = join(broken, 'elm', `${TRIAL}.json`);
    // The Immunization retrieve made a Medication retrieve: Medications name no patient.
    writeFileSync(
      elmFile,
      readFileSync(elmFile, 'utf8').replaceAll(
        '{http://hl7.org/fhir}Immunization',
        '{http://hl7.org/fhir}Medication',
      ),
    );
    expect(() => loadEligibilityEngine({ cqlDir: broken })).toThrow(ConfigurationError);
    expect(() => loadEligibilityEngine({ cqlDir: broken })).toThrow(
      new RegExp(`^${TRIAL}: a retrieve of Medication cannot be read`),
    );
  });
});
