import { join } from 'node:path';
import { ConfigurationError } from '../shared/errors.js';
import { listJsonFiles, parseOrThrow, readJsonFile } from '../shared/json-files.js';
import { TrialSchema, type Trial } from '../domain/trial.js';

/**
 * Reads every trial definition (`*.json`) in `dir`, validated with TrialSchema, sorted by id.
 * @param dir - the trial definitions directory (`cql/trials`).
 */
export function loadTrials(dir: string): readonly Trial[] {
  const trials = listJsonFiles(dir, 'the trial directory').map((file) => {
    const trial = parseOrThrow(
      TrialSchema,
      readJsonFile(join(dir, file), 'trial definition'),
      `trial definition ${file}`,
    );
    if (`${trial.id}.json` !== file)
      throw new ConfigurationError(`${file} defines trial ${trial.id}`);
    return trial;
  });
  if (trials.length === 0) throw new ConfigurationError(`no trial definitions in ${dir}`);
  return trials;
}

/**
 * Fails at start-up when a trial names a CQL definition its library does not have.
 * @param trials - the loaded trials.
 * @param definitionsOf - the definition names of a library.
 */
export function checkTrialDefinitions(
  trials: readonly Trial[],
  definitionsOf: (library: string) => ReadonlySet<string>,
): void {
  const problems: string[] = [];
  for (const trial of trials) {
    const names = definitionsOf(trial.library.name);
    for (const criterion of trial.criteria) {
      for (const name of [criterion.define, criterion.evidence]) {
        if (name !== undefined && !names.has(name)) {
          problems.push(
            `${trial.id} criterion ${criterion.id}: no definition "${name}" in ${trial.library.name}`,
          );
        }
      }
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
}
