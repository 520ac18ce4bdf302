/**
 * Population inputs and outputs of the screen CLI (issue 6), through runScreen with one shared
 * in-process engine: a directory of Bundles, a Bulk Data NDJSON export (grouped by patient, with a
 * corrupt line and an orphan resource), csv/html/table output and --out, and the JSON contract.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FhirResource } from 'fhir/r4.js';
import type { ScreenReport } from '../../src/cli/screen.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { AS_OF, bundle, observation, patient, sle } from '../support/fhir-builders.js';
import { inProcessScreenDeps, screenCli, type ScreenRun } from '../support/screen-cli.js';

const engine = loadEligibilityEngine();
const deps = inProcessScreenDeps(engine);
const root = mkdtempSync(join(tmpdir(), 'population-screen-'));

const screen = (argv: string[]): Promise<ScreenRun> => screenCli(argv, deps);

function dir(name: string, files: Record<string, string>): string {
  const path = join(root, name);
  mkdirSync(path, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(path, file), content);
  return path;
}

const ndjson = (...resources: unknown[]): string =>
  resources.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** The resource with its subject pointing at `id` (the builders use Patient/pat-1). */
function of<T extends FhirResource>(id: string, resource: T): T {
  return { ...resource, subject: { reference: `Patient/${id}` } };
}

function parseCsv(text: string): string[][] {
  // Enough for these tests: no quoted commas in the values compared.
  return text
    .trim()
    .split('\r\n')
    .map((line) => line.split(','));
}

describe('screen CLI: population inputs', () => {
  const p1 = patient({ id: 'p1', age: 40 });
  const p1Sle = of('p1', sle({ id: 'c-p1' }));
  const p1Hb = of('p1', observation('718-7', { quantity: 11, unit: 'g/dL' }, { id: 'o-p1' }));
  const p3 = patient({ id: 'p3', age: 70, gender: 'male' });

  describe('a directory of Bundles', () => {
    it('screens every .json Bundle in name order and reports the bad ones per file', async () => {
      const d = dir('bundles', {
        'b.json': JSON.stringify(bundle(p3)),
        'a.json': JSON.stringify(bundle(p1, p1Sle)),
        'c-no-patient.json': JSON.stringify(bundle(p1Sle)),
        'd-broken.json': '{ nope',
        'notes.txt': 'ignored',
      });
      const { code, out, err } = await screen(['--as-of', AS_OF, d]);
      expect(code).toBe(2);
      const report = JSON.parse(out) as ScreenReport;
      expect(report.patients.map((p) => [p.source, p.patientId])).toEqual([
        [join(d, 'a.json'), 'p1'],
        [join(d, 'b.json'), 'p3'],
      ]);
      expect(err).toContain(
        `${join(d, 'c-no-patient.json')}: the Bundle holds no Patient resource`,
      );
      expect(err).toContain(`${join(d, 'd-broken.json')}: not JSON`);
    });

    it('reports a directory with nothing to screen', async () => {
      const d = dir('empty', { 'readme.txt': 'x' });
      const { code, err } = await screen(['--as-of', AS_OF, d]);
      expect(code).toBe(2);
      expect(err).toContain('holds no Bundle (.json) or NDJSON (.ndjson) files');
    });
  });

  describe('an NDJSON Bulk Data export', () => {
    const p2 = patient({ id: 'p2' });
    const exportDir = dir('export', {
      // p3 first in the file: output follows the Patient file's order.
      'Patient.ndjson': ndjson(p3, p1, p2),
      'Condition.ndjson': ndjson(p1Sle, of('p2', sle({ id: 'c-p2' }))),
      'Observation.ndjson':
        ndjson(p1Hb, of('ghost', observation('718-7', { quantity: 13, unit: 'g/dL' }))) +
        // A corrupt line that names its patient: p2 fails, not the run.
        '{"resourceType":"Observation","subject":{"reference":"Patient/p2"},"valueQuantity":{\n' +
        '\n' +
        // A corrupt line that names no patient.
        'not json at all\n',
      'Encounter.ndjson': ndjson({
        resourceType: 'Encounter',
        id: 'e1',
        status: 'finished',
        subject: { reference: 'Patient/p1' },
      }),
    });

    it('groups resources by patient: the same results as the patient Bundle', async () => {
      const bundleFile = join(
        dir('single', { 'p1.json': JSON.stringify(bundle(p1, p1Sle, p1Hb)) }),
        'p1.json',
      );
      const [fromExport, fromBundle] = await Promise.all([
        screen(['--as-of', AS_OF, exportDir]),
        screen(['--as-of', AS_OF, bundleFile]),
      ]);
      const exported = (JSON.parse(fromExport.out) as ScreenReport).patients;
      expect(exported.map((p) => [p.source, p.patientId])).toEqual([
        [`${exportDir}#Patient/p3`, 'p3'],
        [`${exportDir}#Patient/p1`, 'p1'],
      ]);
      const single = (JSON.parse(fromBundle.out) as ScreenReport).patients[0];
      expect(exported[1]?.trials).toEqual(single?.trials);
      const sleCriterion = exported[1]?.trials
        .find((t) => t.id === 'NCT07339332')
        ?.criteria.find((c) => c.id === 'sle-6-months');
      expect(sleCriterion).toMatchObject({ result: 'pass', evidence: ['Condition/c-p1'] });
    });

    it('fails the patient of a corrupt line, reports orphans and unattributable lines, and goes on', async () => {
      const { code, err } = await screen(['--as-of', AS_OF, exportDir]);
      expect(code).toBe(2);
      expect(err).toContain(`${exportDir}#Patient/p2: Observation.ndjson line 3 is not valid JSON`);
      expect(err).toContain(
        `${exportDir}#Patient/ghost: 1 resources refer to a Patient that is not in the export`,
      );
      expect(err).toContain(
        `${exportDir}#Observation.ndjson:5: Observation.ndjson line 5 is not valid JSON`,
      );
      expect(err).not.toContain('Encounter');
    });

    it('reports an export that cannot be read and still screens the other inputs', async () => {
      const broken = dir('broken-export', { 'Patient.ndjson': ndjson(p1) });
      mkdirSync(join(broken, 'Condition.ndjson'));
      const single = join(dir('single-2', { 'p3.json': JSON.stringify(bundle(p3)) }), 'p3.json');
      const { code, out, err } = await screen(['--as-of', AS_OF, broken, single]);
      expect(code).toBe(2);
      expect(err).toContain(`screen: ${broken}: cannot be read any further (EISDIR)`);
      expect((JSON.parse(out) as ScreenReport).patients.map((p) => p.patientId)).toEqual(['p3']);
    });

    it('writes one CSV row per patient and trial, and an error row per failed input', async () => {
      const { code, out } = await screen(['--as-of', AS_OF, '--format', 'csv', exportDir]);
      expect(code).toBe(2);
      const rows = parseCsv(out);
      expect(rows[0]).toEqual([
        'source',
        'patientId',
        'trial',
        'status',
        'pass',
        'fail',
        'unknown',
        'manual',
        'unknownCriteria',
        'error',
      ]);
      const body = rows.slice(1);
      expect(body.filter((r) => r[1] === 'p1')).toHaveLength(engine.trials.length);
      expect(body.filter((r) => r[1] === 'p3')).toHaveLength(engine.trials.length);
      const p3Row = body.find((r) => r[1] === 'p3' && r[2] === 'NCT07339332');
      expect(p3Row?.[3]).toBe('ineligible');
      expect(Number(p3Row?.[5])).toBeGreaterThanOrEqual(1);
      const p1Row = body.find((r) => r[1] === 'p1' && r[2] === 'NCT07339332');
      const trial = engine.trials.find((t) => t.id === 'NCT07339332');
      expect(
        Number(p1Row?.[4]) + Number(p1Row?.[5]) + Number(p1Row?.[6]) + Number(p1Row?.[7]),
      ).toBe(trial?.criteria.length);
      expect(p1Row?.[8]?.split(' ')).toContain('lvef');
      expect(body.filter((r) => r[3] === 'error').map((r) => r[1])).toEqual(['p2', 'ghost', '']);
    });
  });

  describe('outputs', () => {
    const d = dir('out-input', {
      'a.json': JSON.stringify(bundle(p1, p1Sle, p1Hb)),
      'b.json': JSON.stringify(bundle(p3)),
      'c.json': JSON.stringify(bundle()),
    });

    it('keeps the JSON contract byte for byte: one document, JSON.stringify(report, null, 2)', async () => {
      const { out } = await screen(['--as-of', AS_OF, join(d, 'a.json'), join(d, 'b.json')]);
      const report = JSON.parse(out) as ScreenReport;
      expect(out).toBe(`${JSON.stringify(report, null, 2)}\n`);
      expect(Object.keys(report)).toEqual(['asOf', 'patients']);
      expect(Object.keys(report.patients[0] ?? {})).toEqual(['source', 'patientId', 'trials']);
      const empty = await screen(['--as-of', AS_OF, join(d, 'c.json')]);
      expect(empty.out).toBe(`${JSON.stringify({ asOf: AS_OF, patients: [] }, null, 2)}\n`);
    });

    it('writes to --out instead of stdout', async () => {
      const path = join(root, 'report.csv');
      const { code, out } = await screen(['--as-of', AS_OF, '--format', 'csv', '--out', path, d]);
      expect(code).toBe(2);
      expect(out).toBe('');
      const lines = readFileSync(path, 'utf8').trim().split('\r\n');
      expect(lines).toHaveLength(1 + 2 * engine.trials.length + 1);
      expect(lines.at(-1)).toMatch(/c\.json,,,error,.*the Bundle holds no Patient resource$/);
    });

    it('writes a self-contained HTML report with every patient and a complete marker', async () => {
      const path = join(root, 'report.html');
      await screen(['--as-of', AS_OF, '--format', 'html', '--out', path, d]);
      const html = readFileSync(path, 'utf8');
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
      expect(html).toContain('id="complete"');
      expect(html.match(/class="row"/g)).toHaveLength(3);
      expect(html).not.toMatch(/\b(src|href)\s*=|@import|url\(|https?:\/\/(?!hl7|snomed|loinc)/i);
    });

    it('lists failures in the table format too', async () => {
      const { out } = await screen(['--as-of', AS_OF, '--format', 'table', d]);
      expect(out).toMatch(/NCT07339332\s+ineligible/);
      expect(out).toContain(
        `${join(d, 'c.json')}  INPUT FAILED: the Bundle holds no Patient resource`,
      );
    });

    it('rejects --group without --fhir-server and a bad --fhir-server', async () => {
      expect((await screen(['--group', 'g1'])).err).toContain(
        '--group and --patients need --fhir-server',
      );
      expect((await screen(['--fhir-server', 'ftp://x'])).err).toContain('must be an http(s) URL');
    });
  });
});
