/**
 * The differential oracle (issue 16 item 1): the project's engine, whose cql-execution and
 * cql-exec-fhir are patched process-wide (src/cql-runtime/), against the unpatched library in a
 * child process (test/support/oracle/), over the same ELM, value sets and normalised records: the
 * demo patients, the Synthea bundles, generated patients and fast-check-varied ones (fixed seeds).
 * Every criterion's result and evidence list must be equal. The longer run: `npm run oracle`.
 */
import { createRequire } from 'node:module';
import { loadEngineInputs } from '../../src/engine/load-engine.js';
import { createEligibilityEngine } from '../../src/engine/eligibility-engine.js';
import type { OracleTrialCriteria } from '../support/oracle/upstream-engine.js';
import type { CriterionResultValue } from '../../src/domain/screening.js';
import { UpstreamOracle, compareScreenings, type OracleRecord } from '../support/oracle/oracle.js';
import { demoRecords, syntheticRecords, variedRecords } from '../support/oracle/records.js';
import { AS_OF } from '../support/fhir-builders.js';

const inputs = loadEngineInputs();
const engine = createEligibilityEngine(inputs.trials, inputs.elm, inputs.valueSets);
const records: OracleRecord[] = [
  ...demoRecords(),
  ...syntheticRecords(20, 20261203, AS_OF),
  ...variedRecords(30, 1603, AS_OF),
];

let oracle: UpstreamOracle;
/** The unpatched library's answers, asked for all at once: the child works while the engine does. */
let answers: Map<string, Promise<readonly OracleTrialCriteria[]>>;

beforeAll(async () => {
  oracle = await UpstreamOracle.start(inputs);
  answers = new Map(records.map((r) => [r.name, oracle.screen(r, AS_OF)]));
  for (const answer of answers.values()) answer.catch(() => undefined);
}, 30_000);

afterAll(async () => {
  await oracle.close();
});

test('the oracle runs the unpatched library, the engine the patched one', () => {
  expect(oracle.unpatched).toBe(true);
  const logical = createRequire(import.meta.url)('cql-execution/lib/elm/logical.js') as {
    And: { prototype: object };
  };
  expect(Object.prototype.hasOwnProperty.call(logical.And.prototype, 'execute')).toBe(true);
});

test('a difference in a result or an evidence list is reported, naming record, trial and criterion', async () => {
  const [record] = records;
  const screening = await engine.screen(record!.patient, AS_OF);
  const upstream = await answers.get(record!.name)!;
  expect(compareScreenings('r', screening, upstream)).toEqual([]);
  const [trial] = upstream;
  const [first, ...rest] = trial!.criteria;
  const flipped: CriterionResultValue = first!.result === 'pass' ? 'fail' : 'pass';
  const doctored: OracleTrialCriteria[] = [
    { ...trial!, criteria: [{ ...first!, result: flipped, evidence: ['Observation/x'] }, ...rest] },
    ...upstream.slice(1),
  ];
  const id = first!.cohort === undefined ? first!.id : `${first!.cohort}/${first!.id}`;
  expect(compareScreenings('r', screening, doctored)).toEqual([
    `r ${trial!.id} ${id}: engine ${first!.result} [${first!.evidence.join(', ')}]` +
      ` / upstream ${flipped} [Observation/x]`,
  ]);
});

test.each(records.map((r) => [r.name, r] as const))(
  '%s: the same result and evidence for every criterion as the unpatched library',
  async (name, record) => {
    const screening = await engine.screen(record.patient, AS_OF);
    const upstream = await answers.get(name)!;
    expect(upstream.reduce((n, t) => n + t.criteria.length, 0)).toBe(
      inputs.trials.reduce((n, t) => n + t.criteria.length, 0),
    );
    expect(compareScreenings(name, screening, upstream)).toEqual([]);
  },
);
