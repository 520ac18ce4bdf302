/**
 * Screens patient Bundles against every trial.
 *
 *   npm run --silent screen -- [--as-of YYYY-MM-DD] [--format json|table] FILE...
 *
 * JSON output is one document on stdout (the contract in README.md). A FILE that cannot be read,
 * is not JSON or is not a Bundle of one patient is reported on stderr; the other files are still
 * evaluated and the exit code is 2. Usage errors exit 2 too; 0 means every file was screened.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadEligibilityEngine } from '../engine/load-engine.js';
import type { PatientScreening } from '../engine/screening.js';
import { toPatientBundle } from '../fhir/patient-bundle.js';
import { AppError } from '../shared/errors.js';
import { formatScreeningTable } from './format-table.js';

const USAGE = 'usage: screen [--as-of YYYY-MM-DD] [--format json|table] FILE...';

export interface ScreenedPatient extends Omit<PatientScreening, 'asOf'> {
  readonly source: string;
}

export interface ScreenReport {
  readonly asOf: string;
  readonly patients: readonly ScreenedPatient[];
}

class UsageError extends Error {}

function isValidDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

function parseCommandLine(argv: readonly string[]): {
  asOf: string;
  format: 'json' | 'table';
  files: string[];
} {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'as-of': { type: 'string' },
        format: { type: 'string', default: 'json' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) throw new UsageError('');
  const asOf = values['as-of'] ?? new Date().toISOString().slice(0, 10);
  if (!isValidDate(asOf))
    throw new UsageError(`--as-of must be a calendar date YYYY-MM-DD, not '${asOf}'`);
  const format = values.format;
  if (format !== 'json' && format !== 'table')
    throw new UsageError(`--format must be json or table, not '${format}'`);
  if (positionals.length === 0) throw new UsageError('no FILE given');
  return { asOf, format, files: positionals };
}

async function readBundle(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot read (${code ?? 'error'})`,
      { cause },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new Error('not JSON', { cause });
  }
}

/**
 * Runs the CLI and returns its exit code; output goes to the given streams.
 * @param argv - the arguments after the command name.
 * @param out - where the report goes.
 * @param err - where problems go.
 */
export async function runScreen(
  argv: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  let options;
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') err(`screen: ${error.message}\n`);
    err(`${USAGE}\n`);
    return 2;
  }
  const engine = loadEligibilityEngine();
  const patients: ScreenedPatient[] = [];
  let failed = 0;
  for (const file of options.files) {
    try {
      const patient = toPatientBundle(await readBundle(file));
      const screening = await engine.screen(patient, options.asOf);
      patients.push({ source: file, patientId: screening.patientId, trials: screening.trials });
    } catch (error) {
      failed++;
      const reason = error instanceof AppError || error instanceof Error ? error.message : 'failed';
      err(
        `screen: ${file}: ${error instanceof AppError && error.status >= 500 ? 'evaluation failed' : reason}\n`,
      );
    }
  }
  const report: ScreenReport = { asOf: options.asOf, patients };
  out(
    options.format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : formatScreeningTable(report),
  );
  return failed > 0 ? 2 : 0;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  runScreen(
    process.argv.slice(2),
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  ).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`screen: ${error instanceof Error ? error.message : 'failed'}\n`);
      process.exitCode = 1;
    },
  );
}
