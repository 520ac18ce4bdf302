import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from './errors.js';

/**
 * Reads a JSON file at start-up.
 * @param path - the file.
 * @param what - what it is, for the error ("trial definition", "SITE_CODE_MAP").
 * @throws ConfigurationError when it cannot be read or is not JSON.
 */
export function readJsonFile(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigurationError(`cannot read ${what} ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Validates a value read from a file with its schema.
 * @throws ConfigurationError with zod's description of every problem.
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ConfigurationError(`${what} is invalid: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * The `*.json` file names of a directory, sorted.
 * @param dir - the directory.
 * @param what - what the directory holds, for the error ("the trial directory").
 * @throws ConfigurationError when the directory cannot be read.
 */
export function listJsonFiles(dir: string, what: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch (cause) {
    throw new ConfigurationError(`cannot read ${what} ${dir}`, { cause });
  }
}
