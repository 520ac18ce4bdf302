/**
 * Interrupting `screen` (SIGINT) mid-run: the CLI is spawned on a generated export, interrupted once
 * results have reached the output file, and must leave a usable file: complete CSV rows, or one
 * valid JSON document holding the patients screened so far. Exit code 130.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScreenReport } from '../../src/cli/screen.js';
import { writeNdjsonPopulation } from '../support/synthetic-population.js';
import { AS_OF } from '../support/fhir-builders.js';

const PATIENTS = 400;
const root = mkdtempSync(join(tmpdir(), 'screen-sigint-'));
const exportDir = join(root, 'export');

beforeAll(async () => {
  await writeNdjsonPopulation(exportDir, PATIENTS, { asOf: AS_OF, seed: 7 });
});

/** Spawns the CLI, sends SIGINT once `ready(output so far)` holds, resolves with the exit. */
async function interruptWhen(
  format: string,
  out: string,
  ready: (text: string) => boolean,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/screen.ts',
      '--as-of',
      AS_OF,
      '--format',
      format,
      '--out',
      out,
      exportDir,
    ],
    { cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const timer = setInterval(() => {
    if (existsSync(out) && ready(readFileSync(out, 'utf8'))) {
      clearInterval(timer);
      child.kill('SIGINT');
    }
  }, 50);
  const code = await exited;
  clearInterval(timer);
  return { code, stderr };
}

describe('screen CLI: SIGINT', () => {
  it('leaves complete CSV rows and exits 130', async () => {
    const out = join(root, 'partial.csv');
    const { code, stderr } = await interruptWhen('csv', out, (t) => t.split('\r\n').length > 12);
    expect(code).toBe(130);
    expect(stderr).toMatch(/screen: interrupted: \d+ patients screened/);
    const text = readFileSync(out, 'utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = text.trimEnd().split('\r\n');
    expect(rows[0]).toBe(
      'source,patientId,trial,status,pass,fail,unknown,manual,unknownCriteria,error',
    );
    for (const row of rows.slice(1)) expect(row.split(',')).toHaveLength(10);
    const patients = new Set(rows.slice(1).map((r) => r.split(',')[1]));
    expect(patients.size).toBeGreaterThan(1);
    expect(patients.size).toBeLessThan(PATIENTS);
  });

  it('closes the JSON document: valid JSON with the patients screened so far', async () => {
    const out = join(root, 'partial.json');
    const { code } = await interruptWhen('json', out, (t) => t.includes('"patientId"'));
    expect(code).toBe(130);
    const report = JSON.parse(readFileSync(out, 'utf8')) as ScreenReport;
    expect(report.asOf).toBe(AS_OF);
    expect(report.patients.length).toBeGreaterThan(0);
    expect(report.patients.length).toBeLessThan(PATIENTS);
    expect(report.patients[0]?.source).toBe(`${exportDir}#Patient/gen-000001`);
  });
});
