/**
 * Issue 15 items 1 and 5 through the `screen` CLI: a record file holding another patient's
 * resources, and values no EHR should send (a numeric string, NaN, a Boolean, 1e29, a negative
 * weight). Neither may decide a criterion, and neither may stop the other trials from answering.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Observation } from 'fhir/r4.js';
import type { ScreenReport } from '../../src/cli/screen.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { engineWithFailingWeightCriterion } from '../support/failing-engine.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { AS_OF, bodyWeight, daysAgo, patient, sle } from '../support/fhir-builders.js';
import { inProcessScreenDeps, screenCli } from '../support/screen-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'screen-untrusted-'));
let engine: EligibilityEngine;
beforeAll(() => {
  engine = loadEligibilityEngine();
});

let lastErr = '';
async function screenBundle(name: string, value: Bundle): Promise<ScreenReport> {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  const run = await screenCli(
    ['--as-of', AS_OF, '--format', 'json', path],
    inProcessScreenDeps(engine),
  );
  expect(run.code).toBe(0);
  lastErr = run.err;
  return JSON.parse(run.out) as ScreenReport;
}

function weightResult(
  report: ScreenReport,
): { result: string; evidence: readonly string[] } | undefined {
  return report.patients[0]?.trials
    .find((t) => t.id === 'NCT06513429')
    ?.criteria.find((c) => c.id === 'weight-40-kg');
}

/** A Synthea-shaped transaction Bundle: urn:uuid fullUrls and references. */
function synthea(...entries: { uuid: string; resource: Record<string, unknown> }[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map(({ uuid, resource }) => ({
      fullUrl: `urn:uuid:${uuid}`,
      resource,
      request: { method: 'POST', url: String(resource.resourceType) },
    })),
  } as unknown as Bundle;
}

const PATIENT_UUID = '0b9a7c57-5a2c-4b8e-9d55-4c0e6a7e1a11';
const OTHER_UUID = '7d1f1c1e-3a3b-4d43-a0b5-1c54e1f7c0de';

function weightOf(subject: string, id: string, value = 70): Observation {
  const weight = bodyWeight(value, { id, date: daysAgo(10) });
  return { ...weight, subject: { reference: subject } };
}

describe("screen CLI: another patient's resources (issue 15 item 1)", () => {
  it('does not let an Observation about another patient decide a criterion', async () => {
    const report = await screenBundle(
      'foreign.json',
      synthea(
        { uuid: PATIENT_UUID, resource: { ...patient({ age: 40 }), id: undefined } },
        { uuid: 'c1', resource: { ...sle(), subject: { reference: `urn:uuid:${PATIENT_UUID}` } } },
        // The only weight in the file is another patient's.
        {
          uuid: 'w1',
          resource: { ...weightOf(`urn:uuid:${OTHER_UUID}`, 'w-other'), id: undefined },
        },
      ),
    );
    expect(weightResult(report)).toMatchObject({ result: 'unknown', evidence: [] });
    // Said on stderr with counts and types only: no id of either patient.
    expect(lastErr).toMatch(
      /foreign\.json: resources about another patient were left out \(Observation: 1\)/,
    );
    expect(lastErr).not.toContain(OTHER_UUID);
    expect(lastErr).not.toContain('w-other');
  });

  it('recognises the patient by relative, absolute and urn:uuid references', async () => {
    for (const subject of [
      'Patient/p-own',
      'https://ehr.example/fhir/Patient/p-own',
      'https://ehr.example/fhir/Patient/p-own/_history/3',
    ]) {
      const report = await screenBundle('own.json', {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { resource: patient({ id: 'p-own', age: 40 }) },
          { resource: { ...sle(), subject: { reference: 'Patient/p-own' } } },
          { resource: weightOf(subject, 'w-own') },
        ],
      });
      expect(weightResult(report)).toMatchObject({
        result: 'pass',
        evidence: ['Observation/w-own'],
      });
      expect(lastErr).toBe('');
    }
    const report = await screenBundle(
      'own-synthea.json',
      synthea(
        { uuid: PATIENT_UUID, resource: { ...patient({ age: 40 }), id: undefined } },
        { uuid: 'w2', resource: { ...weightOf(`urn:uuid:${PATIENT_UUID}`, 'w-2'), id: undefined } },
      ),
    );
    expect(weightResult(report)?.result).toBe('pass');
  });

  it('drops Observations naming another patient by absolute reference', async () => {
    const report = await screenBundle('foreign-absolute.json', {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: patient({ id: 'p-own', age: 40 }) },
        { resource: weightOf('https://ehr.example/fhir/Patient/p-other', 'w-abs') },
      ],
    });
    expect(weightResult(report)).toMatchObject({ result: 'unknown', evidence: [] });
  });
});

describe('screen CLI: malformed values (issue 15 item 5)', () => {
  function withWeight(value: unknown): Bundle {
    const weight = bodyWeight(70, { id: 'w-bad', date: daysAgo(10) });
    return {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: patient({ age: 40 }) },
        { resource: sle() },
        {
          resource: {
            ...weight,
            valueQuantity: { ...weight.valueQuantity, value },
          } as unknown as Observation,
        },
      ],
    };
  }

  it('reads a numeric string as its number', async () => {
    const report = await screenBundle('string.json', withWeight('70.5'));
    expect(weightResult(report)).toMatchObject({ result: 'pass', evidence: ['Observation/w-bad'] });
  });

  it.each([
    ['NaN', 'NaN'],
    ['a Boolean', true],
    ['1e29 (past CQL Decimal)', 1e29],
    ['a negative weight', -70],
    ['text', 'seventy'],
  ])('treats %s as unknown and still screens every trial', async (_name, value) => {
    const report = await screenBundle('bad.json', withWeight(value));
    expect(report.patients[0]?.trials).toHaveLength(engine.trials.length);
    expect(weightResult(report)?.result).toBe('unknown');
  });
});

describe('screen CLI: an evaluation error in one criterion (issue 15 item 5)', () => {
  it('makes that criterion unknown, flagged, and every trial still answers', async () => {
    const failing = engineWithFailingWeightCriterion();
    const path = join(dir, 'eval-error.json');
    writeFileSync(
      path,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { resource: patient({ age: 40 }) },
          { resource: sle() },
          { resource: bodyWeight(70) },
        ],
      }),
    );
    const run = await screenCli(
      ['--as-of', AS_OF, '--format', 'json', path],
      inProcessScreenDeps(failing),
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as ScreenReport;
    expect(report.patients[0]?.trials).toHaveLength(failing.trials.length);
    const trial = report.patients[0]?.trials.find((t) => t.id === 'NCT06513429');
    expect(trial?.criteria.find((c) => c.id === 'weight-40-kg')).toMatchObject({
      result: 'unknown',
      evidence: [],
      evaluationError: true,
    });
    expect(trial?.status).not.toBe('eligible');
    // The other criteria of the trial were evaluated as usual.
    expect(trial?.criteria.find((c) => c.id === 'sle-diagnosis')?.result).toBe('pass');
  });
});
