/**
 * Benchmark (not a test): patients per second of the population screener.
 *
 *   npm run bench:population [-- --patients 10000 --rounds 25]
 *
 * 1. The Synthea bundles in demo/synthea (large records: 600 KB to 1 MB each), screened `rounds`
 *    times over through the same pipeline as `screen DIR`.
 * 2. A generated population (test/support/synthetic-population.ts) written as a Bulk Data export
 *    to a temporary directory, then screened as `screen EXPORT_DIR --format csv --out ...` does.
 * The engine is the one the screen CLI uses (see src/cli/screen.ts: the worker pool on every core
 * when available). Prints one JSON line per measurement.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as cqlRuntime from '../src/cql-runtime/install.js';
import { createScreenEngine } from '../src/cli/screen.js';
import { fileItems } from '../src/population/file-inputs.js';
import type { PopulationItem } from '../src/population/population-item.js';
import { createReportWriter } from '../src/population/report-writers.js';
import { screenPopulation } from '../src/population/screen-population.js';
import { writeNdjsonPopulation } from '../test/support/synthetic-population.js';

cqlRuntime.install();
const AS_OF = '2026-11-22';
const { values } = parseArgs({
  options: {
    patients: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '25' },
  },
});
const patients = Number(values.patients);
const rounds = Number(values.rounds);

async function* repeat(dir: string, times: number): AsyncGenerator<PopulationItem> {
  for (let i = 0; i < times; i++) yield* fileItems(dir);
}

async function measure(name: string, items: AsyncIterable<PopulationItem>): Promise<void> {
  const handle = await createScreenEngine();
  let bytes = 0;
  const writer = createReportWriter('csv', {
    asOf: AS_OF,
    trials: handle.engine.trials,
    sink: (text) => {
      bytes += text.length;
    },
  });
  const started = performance.now();
  const summary = await screenPopulation({
    items,
    engine: handle.engine,
    asOf: AS_OF,
    concurrency: handle.concurrency,
    onResult: (r) => {
      writer.write(r);
    },
  });
  writer.finish(summary);
  const seconds = (performance.now() - started) / 1000;
  await handle.close();
  console.log(
    JSON.stringify({
      benchmark: name,
      engine: handle.description,
      cores: availableParallelism(),
      patients: summary.screened,
      failed: summary.failed,
      seconds: Number(seconds.toFixed(2)),
      patientsPerSecond: Number((summary.screened / seconds).toFixed(1)),
      csvBytes: bytes,
    }),
  );
}

await measure(`synthea bundles x${rounds}`, repeat('demo/synthea', rounds));

const dir = mkdtempSync(join(tmpdir(), 'bench-population-'));
try {
  const started = performance.now();
  const written = await writeNdjsonPopulation(dir, patients, { asOf: AS_OF, seed: 42 });
  console.log(
    JSON.stringify({
      generated: written.patients,
      withSle: written.withSle,
      resources: written.resources,
      seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    }),
  );
  await measure(
    `generated export of ${patients} patients (NDJSON, indexed + grouped)`,
    fileItems(dir),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
