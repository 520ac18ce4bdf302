import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ScreenReport } from '../../src/cli/screen.js';
import { AS_OF, bundle, patient, sle } from '../support/fhir-builders.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { inProcessScreenDeps, screenCli, type ScreenRun } from '../support/screen-cli.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'screen-cli-'));

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

// One engine for the runs in this process; the CLI's own engine (its worker pool) runs in the
// `npm run screen` test below.
const deps = inProcessScreenDeps(loadEligibilityEngine());
const screen = (argv: string[]): Promise<ScreenRun> => screenCli(argv, deps);

describe('screen CLI', () => {
  const sleFile = write(
    'sle.json',
    JSON.stringify(bundle(patient({ id: 'p-sle', age: 70 }), sle())),
  );

  it('prints the JSON contract for each file, in order, with the file as given', async () => {
    const { code, out, err } = await screen(['--as-of', AS_OF, '--format', 'json', sleFile]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as ScreenReport;
    expect(report.asOf).toBe(AS_OF);
    expect(report.patients).toHaveLength(1);
    const [screened] = report.patients;
    expect(screened?.source).toBe(sleFile);
    expect(screened?.patientId).toBe('p-sle');
    const trial = screened?.trials.find((t) => t.id === 'NCT07339332');
    expect(trial?.status).toBe('ineligible');
    expect(trial?.criteria.find((c) => c.id === 'age-18-65')).toEqual({
      id: 'age-18-65',
      kind: 'inclusion',
      text: expect.any(String),
      result: 'fail',
      evidence: ['Patient/p-sle'],
    });
    for (const t of screened?.trials ?? []) {
      expect(['eligible', 'needs-review', 'ineligible']).toContain(t.status);
      for (const c of t.criteria) expect(['pass', 'fail', 'unknown', 'manual']).toContain(c.result);
    }
  });

  it('reports files that are not JSON or not a Bundle on stderr, exits 2 and still screens the others', async () => {
    const notJson = write('not-json.json', '{ nope');
    const notBundle = write('patient.json', JSON.stringify(patient()));
    const noPatient = write('empty.json', JSON.stringify(bundle()));
    const { code, out, err } = await screen([
      '--as-of',
      AS_OF,
      notJson,
      sleFile,
      notBundle,
      noPatient,
    ]);
    expect(code).toBe(2);
    expect(err).toContain(`${notJson}: not JSON`);
    expect(err).toContain(`${notBundle}: not a FHIR Bundle`);
    expect(err).toContain(`${noPatient}: the Bundle holds no Patient resource`);
    expect((JSON.parse(out) as ScreenReport).patients.map((p) => p.source)).toEqual([sleFile]);
  });

  it.each([
    [['--as-of', '2026-02-30', 'x.json'], '--as-of must be a calendar date'],
    [['--format', 'xml', 'x.json'], '--format must be json or table'],
    [[], 'no FILE given'],
    [['--colour', 'x.json'], "Unknown option '--colour'"],
  ])('rejects %j with exit code 2 and a usage message', async (argv, message) => {
    const { code, out, err } = await screen(argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(message);
    expect(err).toContain('usage: screen');
  });

  it('prints a readable table with --format table', async () => {
    const { code, out } = await screen(['--as-of', AS_OF, '--format', 'table', sleFile]);
    expect(code).toBe(0);
    expect(out).toContain(`Screening as of ${AS_OF}`);
    expect(out).toMatch(/NCT07339332\s+ineligible/);
    expect(out).toMatch(/FAIL\s+age-18-65/);
  });

  it('runs as `npm run --silent screen` printing only JSON on stdout', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'screen', '--', '--as-of', AS_OF, '--format', 'json', sleFile],
      {
        cwd: process.cwd(),
      },
    );
    expect((JSON.parse(stdout) as ScreenReport).patients[0]?.patientId).toBe('p-sle');
  });
});
