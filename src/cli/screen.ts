/**
 * Screens patients against every trial: one patient's Bundle per FILE (the issue 3 contract), and
 * whole populations (issue 6).
 *
 *   npm run --silent screen -- [--as-of YYYY-MM-DD] [--format json|table|csv|html] [--out PATH]
 *                              FILE...
 *   npm run --silent screen -- [options] --fhir-server URL [--group ID | --patients QUERY]
 *
 * A FILE is a Bundle file, a directory of Bundle files, or a FHIR Bulk Data export (a directory of
 * NDJSON files). The server's bearer token comes from the FHIR_TOKEN environment variable.
 *
 * JSON output is one document (the contract in README.md), written patient by patient. An input
 * that cannot be read, is not JSON or is not a Bundle of one patient is reported on stderr (and as a
 * row in csv/html/table); the others are still evaluated and the exit code is 2. Usage errors exit 2
 * too; 0 means every patient was screened; 130 means interrupted (SIGINT): the output written so
 * far is kept and closed.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCliConfig, loadConfig, loadDotEnv, type Config } from '../config.js';
import type { EligibilityEngine } from '../engine/eligibility-engine.js';
import * as cqlRuntime from '../cql-runtime/install.js';
import { createEnginePool } from '../engine/engine-pool.js';
import { loadEligibilityEngine, loadFetchPlan, type EngineOptions } from '../engine/load-engine.js';
import { FhirKitDataSource } from '../fhir/fhir-kit-data-source.js';
import { describeCounts } from '../fhir/patient-references.js';
import { fhirServerItems } from '../population/fhir-server-input.js';
import { fileItems } from '../population/file-inputs.js';
import type { PopulationItem } from '../population/population-item.js';
import { createProgress, type Progress } from '../population/progress.js';
import { createReportWriter, type OutputFormat } from '../population/report-writers.js';
import { screenPopulation } from '../population/screen-population.js';
import { today } from '../shared/today.js';

export type { ScreenReport, ScreenedPatient } from '../domain/screening.js';

const USAGE = [
  'usage: screen [--as-of YYYY-MM-DD] [--format json|table|csv|html] [--out PATH] FILE...',
  '       screen [--as-of YYYY-MM-DD] [--format ...] [--out PATH] --fhir-server URL [--group ID | --patients QUERY]',
  '  FILE: a Bundle file, a directory of Bundle files, or a Bulk Data export (directory of .ndjson)',
  '  the FHIR server bearer token is read from the FHIR_TOKEN environment variable',
].join('\n');

const FORMATS: readonly OutputFormat[] = ['json', 'table', 'csv', 'html'];

/** The engine the run uses, and how to release it. */
export interface EngineHandle {
  readonly engine: EligibilityEngine;
  /** For the benchmark's report: which engine, how many threads. */
  readonly description: string;
  /** Patients loaded or evaluated at once. */
  readonly concurrency: number;
  close(): Promise<void>;
}

export interface ScreenDeps {
  /**
   * The environment, read by loadConfig as the service reads it (SITE_CODE_MAP, CQL_DIR,
   * SCREEN_WORKERS, FHIR_TOKEN...); default: process.env.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Interrupts the run: no new patients are started, the output is closed. */
  readonly signal?: AbortSignal;
  /** A progress bar on the error stream, when it is a terminal: its width. */
  readonly terminalColumns?: () => number;
  /** Builds the engine (default: createScreenEngine, the worker pool, from the configuration). */
  readonly createEngine?: (config: Config) => Promise<EngineHandle>;
}

interface Options {
  asOf: string;
  format: OutputFormat;
  out: string | undefined;
  files: string[];
  server: { baseUrl: string; groupId?: string; patientQuery?: string } | undefined;
}

class UsageError extends Error {}

function isValidDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

function parseCommandLine(argv: readonly string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'as-of': { type: 'string' },
        format: { type: 'string', default: 'json' },
        out: { type: 'string' },
        'fhir-server': { type: 'string' },
        group: { type: 'string' },
        patients: { type: 'string' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) throw new UsageError('');
  const asOf = values['as-of'] ?? today();
  if (!isValidDate(asOf))
    throw new UsageError(`--as-of must be a calendar date YYYY-MM-DD, not '${asOf}'`);
  const format = values.format as OutputFormat;
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be json or table or csv or html, not '${values.format}'`);
  if (values.out === '') throw new UsageError('--out needs a path');
  const baseUrl = values['fhir-server'];
  let server: Options['server'];
  if (baseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new UsageError('--fhir-server must be an http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new UsageError('--fhir-server must be an http(s) URL');
    if (values.group !== undefined && values.patients !== undefined)
      throw new UsageError('give --group or --patients, not both');
    server = {
      baseUrl,
      ...(values.group !== undefined ? { groupId: values.group } : {}),
      ...(values.patients !== undefined ? { patientQuery: values.patients } : {}),
    };
  } else if (values.group !== undefined || values.patients !== undefined) {
    throw new UsageError('--group and --patients need --fhir-server');
  }
  if (positionals.length === 0 && server === undefined) throw new UsageError('no FILE given');
  return { asOf, format, out: values.out, files: positionals, server };
}

/** The engine options of a configuration (CQL_DIR, SITE_CODE_MAP). */
function engineOptionsOf(config: Config): EngineOptions {
  return {
    ...(config.cqlDir !== undefined ? { cqlDir: config.cqlDir } : {}),
    siteCodes: config.siteCodes,
  };
}

/**
 * The patients to screen: files read for the types the engine reads, a FHIR server searched by
 * the fetch plan of the same ELM (both derived from its retrieves, issue 16 item 3).
 */
async function* allItems(
  options: Options,
  config: Config,
  engine: EligibilityEngine,
  reader: FhirKitDataSource | undefined,
): AsyncGenerator<PopulationItem> {
  for (const file of options.files) yield* fileItems(file, engine.reads?.types);
  if (options.server !== undefined && reader !== undefined)
    yield* fhirServerItems({
      ...options.server,
      reader,
      ...(config.fhirToken !== undefined ? { token: config.fhirToken } : {}),
      plan: loadFetchPlan(engineOptionsOf(config)),
    });
}

/**
 * The FHIR reader of `--fhir-server`: the service's, with the same limits from the configuration
 * (FHIR_MAX_BODY, FHIR_TIMEOUT_MS, FHIR_MAX_PAGES, FHIR_MAX_RESOURCES; issue 16).
 */
function fhirReaderOf(config: Config): FhirKitDataSource {
  return new FhirKitDataSource({
    timeoutMs: config.fhirTimeoutMs,
    maxPages: config.fhirMaxPages,
    maxResponseBytes: config.fhirMaxBodyBytes,
    maxResources: config.fhirMaxResources,
  });
}

/**
 * The engine the CLI uses by default, built from the same configuration as the service's
 * (CQL_DIR, SITE_CODE_MAP): a pool of SCREEN_WORKERS worker threads (default: ENGINE_WORKERS's
 * default, the cores); 0 evaluates in-process, one patient at a time.
 * @param config - loadConfig's result (default: from process.env).
 */
export async function createScreenEngine(
  config: Config = loadConfig(process.env),
): Promise<EngineHandle> {
  const engineOptions = engineOptionsOf(config);
  if (config.screenWorkers === 0) {
    return {
      engine: loadEligibilityEngine(engineOptions),
      description: 'in-process (1 thread)',
      // Loading overlaps with evaluation; the in-process engine evaluates one patient at a time.
      concurrency: 4,
      close: () => Promise.resolve(),
    };
  }
  const pool = await createEnginePool({ ...engineOptions, size: config.screenWorkers });
  return {
    engine: pool,
    description: `worker pool (${pool.size} threads)`,
    // Enough in flight to keep every worker busy while the next records are read and normalised.
    concurrency: pool.size * 4,
    close: () => pool.close(),
  };
}

/**
 * Runs the CLI and returns its exit code; output goes to the given streams (or --out).
 * @param argv - the arguments after the command name.
 * @param out - where the report goes unless --out names a file.
 * @param err - where problems (and the progress bar) go.
 * @param deps - environment, interruption, terminal and engine.
 */
export async function runScreen(
  argv: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
  deps: ScreenDeps = {},
): Promise<number> {
  let options: Options;
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') err(`screen: ${error.message}\n`);
    err(`${USAGE}\n`);
    return 2;
  }
  const config = loadCliConfig('screen', deps.env ?? process.env, err);
  if (config === undefined) return 2;
  let sink = out;
  let fd: number | undefined;
  if (options.out !== undefined) {
    try {
      fd = openSync(options.out, 'w');
    } catch (error) {
      err(
        `screen: cannot write ${options.out} (${(error as NodeJS.ErrnoException).code ?? 'error'})\n`,
      );
      return 2;
    }
    const file = fd;
    // Synchronous writes: every result is in the file (the OS's cache) when it is reported.
    sink = (text) => {
      writeSync(file, text);
    };
  }
  const handle = await (deps.createEngine ?? createScreenEngine)(config);
  const progress: Progress | undefined =
    deps.terminalColumns === undefined ? undefined : createProgress(err, deps.terminalColumns);
  const report = (text: string): void => {
    if (progress === undefined) err(text);
    else progress.note(text);
  };
  const reader = options.server !== undefined ? fhirReaderOf(config) : undefined;
  try {
    const writer = createReportWriter(options.format, {
      asOf: options.asOf,
      trials: handle.engine.trials,
      sink,
    });
    const summary = await screenPopulation({
      items: allItems(options, config, handle.engine, reader),
      engine: handle.engine,
      asOf: options.asOf,
      concurrency: handle.concurrency,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      onExpect: (count) => progress?.expect(count),
      onResult: (result) => {
        if (result.kind === 'failure') report(`screen: ${result.source}: ${result.message}\n`);
        else if (result.foreign !== undefined)
          report(
            `screen: ${result.patient.source}: resources about another patient were left out (${describeCounts(result.foreign)})\n`,
          );
        writer.write(result);
        progress?.tick(result.kind === 'failure');
      },
    });
    writer.finish(summary);
    progress?.clear();
    if (summary.interrupted) {
      err(
        `screen: interrupted: ${summary.screened} patients screened and ${summary.failed} failures written${options.out !== undefined ? ` to ${options.out}` : ''}; the output is complete up to there\n`,
      );
      return 130;
    }
    return summary.failed > 0 ? 2 : 0;
  } finally {
    progress?.clear();
    if (fd !== undefined) closeSync(fd);
    await reader?.close();
    await handle.close();
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  try {
    // The cql-execution overrides, before anything evaluates CQL (throws on other library versions).
    cqlRuntime.install();
  } catch (error) {
    process.stderr.write(`screen: ${error instanceof Error ? error.message : 'failed'}\n`);
    process.exit(1);
  }
  loadDotEnv();
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    interrupt.abort();
    // A second Ctrl-C stops at once: the output is then a prefix (see README, "Partial output").
    process.once('SIGINT', () => process.exit(130));
  });
  runScreen(
    process.argv.slice(2),
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
    {
      signal: interrupt.signal,
      ...(process.stderr.isTTY ? { terminalColumns: () => process.stderr.columns } : {}),
    },
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
