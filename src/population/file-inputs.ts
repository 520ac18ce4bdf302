/**
 * FILE arguments of the screen CLI: a Bundle file (as before), a directory of Bundle files
 * (`*.json`, not recursive, in name order), an NDJSON Bulk Data export directory (any `*.ndjson`
 * in it) or a single `.ndjson` file.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listNdjsonFiles, ndjsonExportItems } from './ndjson-export.js';
import type { PopulationItem } from './population-item.js';

/** Reads and parses one Bundle file; the messages are the screen CLI's since issue 3. */
export async function readBundleFile(file: string): Promise<unknown> {
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

function bundleRecord(file: string): PopulationItem {
  return { kind: 'record', source: file, load: () => readBundleFile(file) };
}

/**
 * The patients one FILE argument holds. A directory or export that cannot be read any further
 * ends with a failure; the patients before it stand.
 * @param file - the argument as given (sources keep its spelling).
 * @param types - the resource types the engine reads (EligibilityEngine.reads.types): what an
 *   NDJSON export is read for (default: ENGINE_RESOURCE_TYPES).
 */
export async function* fileItems(
  file: string,
  types?: readonly string[],
): AsyncGenerator<PopulationItem> {
  try {
    yield* itemsOf(file, types);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    yield {
      kind: 'failure',
      source: file,
      message: `cannot be read any further (${code ?? 'error'})`,
    };
  }
}

async function* itemsOf(
  file: string,
  types: readonly string[] | undefined,
): AsyncGenerator<PopulationItem> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(file)).isDirectory();
  } catch {
    // Not there or unreadable: readBundleFile says which, as a plain file always did.
  }
  if (!isDirectory) {
    if (file.endsWith('.ndjson')) {
      yield* ndjsonExportItems(file, [file], types);
      return;
    }
    yield { kind: 'expect', count: 1 };
    yield bundleRecord(file);
    return;
  }
  const ndjson = await listNdjsonFiles(file);
  if (ndjson.length > 0) {
    yield* ndjsonExportItems(file, ndjson, types);
    return;
  }
  const bundles = (await readdir(file)).filter((n) => n.endsWith('.json')).sort();
  if (bundles.length === 0) {
    yield {
      kind: 'failure',
      source: file,
      message: 'the directory holds no Bundle (.json) or NDJSON (.ndjson) files',
    };
    return;
  }
  yield { kind: 'expect', count: bundles.length };
  for (const name of bundles) yield bundleRecord(join(file, name));
}
