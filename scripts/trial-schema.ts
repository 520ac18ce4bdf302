/**
 * `npm run trials:schema [-- --check]`: writes cql/trial.schema.json, the JSON Schema of a trial
 * definition (cql/trials/<NCT id>.json), generated from the zod schema (src/domain/trial.ts) with
 * zod's own `z.toJSONSchema`, as the file is written (input: fields with defaults are optional).
 * `--check` exits 1 when the file is missing or stale (test/trials/trial-schema.test.ts runs it).
 * Rules zod checks in code (unique criterion ids, known cohorts) are not expressible in JSON
 * Schema: the service still refuses such a file at start-up.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TrialSchema } from '../src/domain/trial.js';

export const TRIAL_SCHEMA_FILE = fileURLToPath(
  new URL('../cql/trial.schema.json', import.meta.url),
);

/** The schema document, as written to the file (prettier-formatted, as the repository is). */
export async function trialJsonSchema(): Promise<string> {
  const schema = z.toJSONSchema(TrialSchema, { io: 'input', target: 'draft-2020-12' });
  const document = {
    $schema: schema.$schema,
    $id: 'urn:cds-trial-matcher:trial-definition',
    title: 'cds-trial-matcher trial definition (cql/trials/<NCT id>.json)',
    description:
      'Generated from src/domain/trial.ts by npm run trials:schema; do not edit. Also checked at start-up: unique criterion ids per cohort, known cohorts, manual criteria without gate or evidence.',
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== '$schema')),
  };
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(TRIAL_SCHEMA_FILE)) ?? {};
  return prettier.format(JSON.stringify(document, null, 2), {
    ...options,
    filepath: TRIAL_SCHEMA_FILE,
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const text = await trialJsonSchema();
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(TRIAL_SCHEMA_FILE, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== text) {
      process.stderr.write('cql/trial.schema.json is stale: run npm run trials:schema\n');
      return 1;
    }
    return 0;
  }
  writeFileSync(TRIAL_SCHEMA_FILE, text);
  process.stdout.write('wrote cql/trial.schema.json\n');
  return 0;
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`)
  process.exitCode = await main(process.argv.slice(2));
