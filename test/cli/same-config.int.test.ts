/**
 * Issue 18: the `screen` CLI and the service read the same configuration (loadConfig), so a
 * patient whose SLEDAI-2K is filed under a site code gets the same statuses from both when
 * SITE_CODE_MAP maps it. The service runs as a separate process (src/main.ts), as deployed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { cardExtension } from '../../src/cards/render-cards.js';
import type { Card } from '../../src/cards/card.js';
import type { ScreenReport } from '../../src/cli/screen.js';
import { condition, observation, patient } from '../support/fhir-builders.js';
import { startReplica, type Replica } from '../support/replica.js';
import { screenCli } from '../support/screen-cli.js';
import { today } from '../../src/shared/today.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// An Epic flowsheet row holding the SLEDAI-2K total (the README's example).
const EPIC_SLEDAI = { system: 'urn:oid:1.2.840.114350.1.13.0.1.7.2.707679', code: '3040102' };
const TODAY = today();
const daysBefore = (days: number): string => {
  const date = new Date(`${TODAY}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
};

const dir = mkdtempSync(join(tmpdir(), 'same-config-'));
const siteCodeMap = join(dir, 'site-codes.json');
writeFileSync(
  siteCodeMap,
  JSON.stringify([
    { from: EPIC_SLEDAI, to: { system: 'urn:cds-trial-matcher:code', code: 'SLEDAI-2K' } },
  ]),
);
const thePatient = patient({ birthDate: `${Number(TODAY.slice(0, 4)) - 40}-03-01` });
const sle = condition(
  { code: '55464009', display: 'Systemic lupus erythematosus' },
  { onset: daysBefore(3 * 365) },
);
const sledai = observation(
  EPIC_SLEDAI,
  { integer: 12 },
  { category: 'survey', date: daysBefore(3) },
);
const record: Bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [thePatient, sle, sledai].map((resource) => ({ resource: resource })),
};
const recordFile = join(dir, 'record.json');
writeFileSync(recordFile, JSON.stringify(record));

const searchset = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});

/** The prefetch of hooks/trial-matcher.json: every key sent, the record's data under its key. */
function prefetch(): Record<string, unknown> {
  const service = JSON.parse(readFileSync(join(ROOT, 'hooks/trial-matcher.json'), 'utf8')) as {
    prefetch: Record<string, string>;
  };
  const keys = Object.fromEntries(Object.keys(service.prefetch).map((k) => [k, null]));
  return {
    ...keys,
    patient: thePatient,
    conditions: searchset(sle),
    observationsSurvey: searchset(sledai),
  };
}

const SLEDAI_CRITERION = 'sledai-7-or-organ-dysfunction';
const TRIAL = 'NCT07339332';

async function cli(env: Record<string, string>): Promise<ScreenReport> {
  const run = await screenCli(['--as-of', TODAY, recordFile], {
    env: { SCREEN_WORKERS: '0', ...env },
  });
  expect(run.err).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.out) as ScreenReport;
}

function recruiting(trialId: string): boolean {
  const trial = JSON.parse(readFileSync(join(ROOT, 'cql/trials', `${trialId}.json`), 'utf8')) as {
    status: string;
  };
  return trial.status === 'RECRUITING';
}

describe('the screen CLI and the service share one configuration (issue 18)', () => {
  let service: Replica;
  beforeAll(async () => {
    service = await startReplica({
      SITE_CODE_MAP: siteCodeMap,
      DEMO_FHIR: 'false',
      FEEDBACK_DB_PATH: ':memory:',
      CORS_ORIGINS: 'none',
    });
  }, 120_000);
  afterAll(async () => {
    await service.stop();
  });

  it('the CLI reads SITE_CODE_MAP: the SLEDAI-2K under the site code decides the criterion', async () => {
    const without = await cli({});
    const withMap = await cli({ SITE_CODE_MAP: siteCodeMap });
    const criterion = (report: ScreenReport): string | undefined =>
      report.patients[0]?.trials
        .find((t) => t.id === TRIAL)
        ?.criteria.find((c) => c.id === SLEDAI_CRITERION)?.result;
    expect(criterion(without)).toBe('unknown');
    expect(criterion(withMap)).toBe('pass');
  });

  it('gives the same statuses, and the same criteria to confirm, as the service with the map', async () => {
    const report = await cli({ SITE_CODE_MAP: siteCodeMap });
    const response = await fetch(`${service.base}/cds-services/trial-matcher`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: 'a3b1c2d4-0000-4000-8000-000000000018',
        context: { userId: 'Practitioner/example', patientId: thePatient.id },
        prefetch: prefetch(),
      }),
    });
    expect(response.status).toBe(200);
    const { cards } = (await response.json()) as {
      cards: Card[];
    };
    // Each card says its trial's status in its extension, as the CLI reports it.
    const fromService = Object.fromEntries(
      cards.map((card) => [card.source.topic?.code, cardExtension(card)?.status]),
    );
    const trials = report.patients[0]?.trials ?? [];
    const fromCli = Object.fromEntries(
      trials
        .filter((t) => t.status !== 'ineligible' && recruiting(t.id))
        .map((t) => [t.id, t.status]),
    );
    expect(Object.keys(fromCli)).toContain(TRIAL);
    expect(fromService).toEqual(fromCli);
    // The card counts what is left to confirm as the CLI does: the mapped SLEDAI-2K is not in it.
    const trial = trials.find((t) => t.id === TRIAL);
    const toConfirm = trial?.criteria.filter(
      (c) => c.result === 'unknown' || c.result === 'manual',
    ).length;
    const card = cards.find((c) => c.source.topic?.code === TRIAL);
    expect(card?.summary).toContain(`${toConfirm} criteria to confirm`);
  });
});
