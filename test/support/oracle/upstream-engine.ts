/**
 * The differential oracle's other side: the UNPATCHED cql-execution and cql-exec-fhir, in a process
 * of its own (the project's patches are process-wide; this process never imports src/cql-runtime/
 * nor the engine). Started by oracle.ts with `node --import tsx`.
 *
 * Protocol, one JSON document per line: stdin gets a setup line, then one line per patient;
 * stdout answers the setup line with `{ "ready": true, "upstreamAndExecute": <bool> }` and each
 * patient line with `{ "name", "trials": TrialCriteria[] }` or `{ "name", "error" }`.
 *
 * Evaluation is the library's documented way, per trial: a Library over a Repository of the ELM as
 * translated (local ids kept), cql-exec-fhir's PatientSource over the whole normalised bundle (its
 * `currentPatient()` for each trial, as the Executor does), one PatientContext per trial library (no context shared between trials), every definition awaited.
 * Each criterion is read with the engine's own readCriterion (criterion-reading.ts).
 */
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { CodeService, DateTime, Library, PatientContext, Repository } from 'cql-execution';
import { PatientSource } from 'cql-exec-fhir';
import { readCriterion } from '../../../src/engine/criterion-reading.js';
import type { Trial } from '../../../src/domain/trial.js';
import type { CriterionResult } from '../../../src/domain/screening.js';

export interface OracleSetup {
  /** ELM JSON by library id, as in cql/elm. */
  readonly libraries: Record<string, unknown>;
  readonly trials: readonly Trial[];
  /** The value set expansions the engine is built with (ValueSetExpansions). */
  readonly valueSets: Record<string, unknown>;
}

export interface OraclePatient {
  readonly name: string;
  readonly asOf: string;
  /** The normalised collection Bundle (PatientBundle.bundle). */
  readonly bundle: unknown;
}

export interface OracleTrialCriteria {
  readonly id: string;
  readonly criteria: readonly CriterionResult[];
}

export type OracleAnswer =
  | { readonly name: string; readonly trials: readonly OracleTrialCriteria[] }
  | { readonly name: string; readonly error: string };

/** Whether cql-execution's `And` runs upstream's code (the patches give it its own `execute`). */
function upstreamAndExecute(): boolean {
  const require = createRequire(import.meta.url);
  const logical = require('cql-execution/lib/elm/logical.js') as {
    And: { prototype: object };
  };
  return !Object.prototype.hasOwnProperty.call(logical.And.prototype, 'execute');
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let setup: { trials: readonly Trial[]; libraries: Map<string, Library>; codes: CodeService };
  // One PatientSource (it parses the FHIR model info when built), reset for every patient.
  const source = PatientSource.FHIRv401({ requireProfileTagging: false });
  let ready = false;
  const write = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };
  for await (const line of lines) {
    if (line.trim() === '') continue;
    if (!ready) {
      const input = JSON.parse(line) as OracleSetup;
      const repository = new Repository(input.libraries);
      const libraries = new Map<string, Library>();
      for (const trial of input.trials)
        libraries.set(trial.id, new Library(input.libraries[trial.library.name], repository));
      setup = {
        trials: input.trials,
        libraries,
        codes: new CodeService(input.valueSets as ConstructorParameters<typeof CodeService>[0]),
      };
      ready = true;
      write({ ready: true, upstreamAndExecute: upstreamAndExecute() });
      continue;
    }
    const patient = JSON.parse(line) as OraclePatient;
    try {
      const executionDateTime = DateTime.parse(`${patient.asOf}T12:00:00.000Z`);
      const trials: OracleTrialCriteria[] = [];
      source.reset();
      source.loadBundles([patient.bundle]);
      for (const trial of setup!.trials) {
        const library = setup!.libraries.get(trial.id)!;
        const context = new PatientContext(
          library,
          source.currentPatient(),
          setup!.codes,
          {},
          executionDateTime!,
        );
        const criteria: CriterionResult[] = [];
        for (const criterion of trial.criteria)
          criteria.push(
            await readCriterion(criterion, trial.id, (name) => {
              const expressions = library.expressions as Record<
                string,
                { execute(context: PatientContext): Promise<unknown> }
              >;
              return expressions[name]!.execute(context);
            }),
          );
        trials.push({ id: trial.id, criteria });
      }
      write({ name: patient.name, trials });
    } catch (error) {
      write({ name: patient.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
