/**
 * The differential oracle's long run (the short one is test/engine/differential-oracle.int.test.ts):
 * the engine (patched cql-execution, this process) against the unpatched library (child processes)
 * over the demo and Synthea records and `--patients` generated ones, half as the synthetic
 * population generates them, half varied by fast-check (test/support/oracle/records.ts), all from
 * `--seed`. Prints every difference; exits 1 when there is one.
 *
 *   npm run oracle -- --patients 2000 [--seed 1] [--jobs 2]
 */
import { parseArgs } from 'node:util';
import { loadEngineInputs } from '../src/engine/load-engine.js';
import * as cqlRuntime from '../src/cql-runtime/install.js';
import { createEligibilityEngine } from '../src/engine/eligibility-engine.js';
import {
  UpstreamOracle,
  compareScreenings,
  type OracleRecord,
} from '../test/support/oracle/oracle.js';
import { demoRecords, syntheticRecords, variedRecords } from '../test/support/oracle/records.js';

const AS_OF = '2026-11-22';
const CHUNK = 100;

const { values } = parseArgs({
  options: {
    patients: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '1' },
  },
});
const patients = Number(values.patients);
const seed = Number(values.seed);
const jobs = Number(values.jobs);
if (!Number.isInteger(patients) || patients < 0 || !Number.isInteger(seed) || !(jobs >= 1)) {
  process.stderr.write('usage: npm run oracle -- --patients <n> [--seed <n>] [--jobs <n>]\n');
  process.exit(2);
}

/** The records, a chunk at a time (each chunk from its own seed, so memory stays flat). */
function* records(): Generator<OracleRecord> {
  yield* demoRecords();
  for (let start = 0, chunk = 0; start < patients; start += CHUNK, chunk++) {
    const size = Math.min(CHUNK, patients - start);
    const synthetic = Math.ceil(size / 2);
    const prefix = (r: OracleRecord): OracleRecord => ({ ...r, name: `chunk ${chunk} ${r.name}` });
    yield* syntheticRecords(synthetic, seed * 1000 + chunk, AS_OF).map(prefix);
    yield* variedRecords(size - synthetic, seed * 1000 + chunk, AS_OF).map(prefix);
  }
}

cqlRuntime.install();
const inputs = loadEngineInputs();
const engine = createEligibilityEngine(inputs.trials, inputs.elm, inputs.valueSets);
const oracles = await Promise.all(Array.from({ length: jobs }, () => UpstreamOracle.start(inputs)));
if (oracles.some((o) => !o.unpatched)) throw new Error('an oracle process runs a patched library');

const started = Date.now();
let compared = 0;
let criteria = 0;
const differences: string[] = [];
/** Records in flight per oracle: enough to keep the child busy while this process works. */
const inFlight: Promise<void>[] = [];
let next = 0;
for (const record of records()) {
  const oracle = oracles[next++ % oracles.length] as UpstreamOracle;
  const upstream = oracle.screen(record, AS_OF);
  inFlight.push(
    (async () => {
      const screening = await engine.screen(record.patient, AS_OF);
      const answer = await upstream;
      criteria += answer.reduce((n, t) => n + t.criteria.length, 0);
      const found = compareScreenings(record.name, screening, answer);
      for (const line of found) process.stdout.write(`${line}\n`);
      differences.push(...found);
      compared++;
      if (compared % 100 === 0)
        process.stderr.write(
          `${compared} records, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
        );
    })(),
  );
  if (inFlight.length >= 8 * jobs) await inFlight.shift();
}
await Promise.all(inFlight);
await Promise.all(oracles.map((o) => o.close()));
process.stdout.write(
  `${compared} records, ${criteria} criterion results compared in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
    `${differences.length === 0 ? 'no difference' : `${differences.length} differences`}\n`,
);
process.exitCode = differences.length === 0 ? 0 : 1;
