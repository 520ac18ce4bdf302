/** Running the `screen` CLI (runScreen) in a test: its output captured, the engine in-process. */
import { runScreen, type ScreenDeps } from '../../src/cli/screen.js';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';

/** What one run of the CLI printed and its exit code. */
export interface ScreenRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs the CLI with `argv`, capturing stdout and stderr.
 * @param deps - as runScreen takes them (default: the CLI's own engine and environment).
 */
export async function screenCli(argv: string[], deps?: ScreenDeps): Promise<ScreenRun> {
  let out = '';
  let err = '';
  const code = await runScreen(
    argv,
    (t) => (out += t),
    (t) => (err += t),
    deps,
  );
  return { code, out, err };
}

/**
 * Deps that screen with an engine built once by the test (no worker pool), 3 patients at a time.
 * @param engine - usually loadEligibilityEngine().
 * @param env - the environment the CLI reads (FHIR_TOKEN...).
 */
export function inProcessScreenDeps(
  engine: EligibilityEngine,
  env?: ScreenDeps['env'],
): ScreenDeps {
  return {
    ...(env !== undefined ? { env } : {}),
    createEngine: () =>
      Promise.resolve({
        engine,
        description: 'test',
        concurrency: 3,
        close: () => Promise.resolve(),
      }),
  };
}
