/**
 * The worker pool: same screenings as the in-process engine, deadlines and aborts that abandon a
 * running evaluation (its worker comes back, or is replaced past a grace), a bounded queue, close(),
 * start-up failure. Workers
 * load the TypeScript entry through the tsx bootstrap here (from dist/ they load compiled JS).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createEnginePool,
  EngineAbortedError,
  EngineDeadlineError,
  EngineOverloadedError,
  type EnginePool,
} from '../../src/engine/engine-pool.js';
import { loadEligibilityEngine } from '../../src/engine/load-engine.js';
import { toPatientBundle, type PatientBundle } from '../../src/fhir/patient-bundle.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { loadServiceDefinitions } from '../../src/cds-hooks/service-definition.js';
import { PREFETCHED_CALL_JOB, prefetchedCallsOn } from '../../src/cds-hooks/prefetched-call.js';
import { DEFAULT_HOOKS_DIR } from '../../src/config.js';
import { AS_OF } from '../support/fhir-builders.js';
import { TRIAL_IDS_JOB } from '../support/trial-count-job.js';

const DEMO = fileURLToPath(new URL('../../demo/', import.meta.url));

function load(path: string): PatientBundle {
  return toPatientBundle(JSON.parse(readFileSync(`${DEMO}${path}`, 'utf8')) as unknown);
}

const SLE = load('patients/sle-eligible.json');
const SYNTHEA = load('synthea/Grazyna_Considine_2fae9bb9-6da0-4aa8-8a78-a37b92361820.json');
/** The in-process engine the pool's answers are compared with. */
const local = loadEligibilityEngine();

let pool: EnginePool;
beforeAll(async () => {
  pool = await createEnginePool({
    size: 1,
    maxQueue: 2,
    jobs: [PREFETCHED_CALL_JOB, TRIAL_IDS_JOB],
  });
}, 60_000);
afterAll(async () => {
  await pool.close();
});

test('screens exactly as the in-process engine does', async () => {
  expect(pool.trials.map((t) => t.id)).toEqual(local.trials.map((t) => t.id));
  for (const patient of [SLE, SYNTHEA]) {
    expect(await pool.screen(patient, AS_OF)).toEqual(await local.screen(patient, AS_OF));
  }
  const subset = [local.trials[1]!.id];
  expect(await pool.screen(SLE, AS_OF, subset)).toEqual(await local.screen(SLE, AS_OF, subset));
});

test('runs any job registered with it, defined outside the engine; an unknown job is an error', async () => {
  expect(await pool.runJob(TRIAL_IDS_JOB.name, { prefix: 'trial ' })).toEqual(
    local.trials.map((trial) => `trial ${trial.id}`),
  );
  await expect(pool.runJob('no-such-job', {})).rejects.toThrow('no job named no-such-job');
  // The worker serves on.
  expect(await pool.screen(SLE, AS_OF)).toEqual(await local.screen(SLE, AS_OF));
});

test("a hook call's body is moved to the worker, not copied; a fallback hands it back intact", async () => {
  const [service] = loadServiceDefinitions(DEFAULT_HOOKS_DIR);
  // Not valid JSON: the worker cannot answer and returns the call to the HTTP thread.
  const text = '{"hook": "patient-view", "oops"';
  const body = Buffer.alloc(Buffer.byteLength(text));
  body.write(text);
  const answer = await prefetchedCallsOn(pool).answerPrefetched({
    service: service!,
    body,
    asOf: AS_OF,
  });
  expect(body.byteLength).toBe(0); // moved: this thread no longer holds the bytes
  expect(answer.kind).toBe('fallback');
  if (answer.kind !== 'fallback') return;
  expect(Buffer.from(answer.body).toString('utf8')).toBe(text);
}, 60_000);

test('past its deadline an evaluation is given up on; its worker comes back by itself and serves on', async () => {
  const before = pool.stats();
  await expect(pool.screen(SYNTHEA, AS_OF, undefined, { timeoutMs: 1 })).rejects.toBeInstanceOf(
    EngineDeadlineError,
  );
  // The worker got the deadline with the job, stopped at its next definition, and takes the
  // next call: nothing was terminated or started again.
  const screening = await pool.screen(SLE, AS_OF);
  expect(screening.patientId).toBe(SLE.patientId);
  expect(pool.stats().replaced).toBe(before.replaced);
}, 60_000);

test('a worker not back within the grace after its job was given up on is replaced; a closed pool refuses work', async () => {
  // No grace: the worker is terminated as soon as its job is abandoned.
  const strict = await createEnginePool({ size: 1, abandonGraceMs: 0 });
  try {
    const controller = new AbortController();
    const running = strict.screen(SYNTHEA, AS_OF, undefined, { signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(EngineAbortedError);
    // The next call waits for the replacement worker and succeeds.
    expect((await strict.screen(SLE, AS_OF)).patientId).toBe(SLE.patientId);
    expect(strict.stats().replaced).toBe(1);
  } finally {
    await strict.close();
  }
  // A closed pool refuses work.
  await expect(strict.screen(SLE, AS_OF)).rejects.toBeInstanceOf(EngineOverloadedError);
}, 60_000);

test('an absolute deadline already past rejects without evaluating', async () => {
  await expect(
    pool.screen(SLE, AS_OF, undefined, { deadline: Date.now() - 1 }),
  ).rejects.toBeInstanceOf(EngineDeadlineError);
}, 60_000);

test('abort: before the call and while running', async () => {
  await expect(
    pool.screen(SLE, AS_OF, undefined, { signal: AbortSignal.abort() }),
  ).rejects.toBeInstanceOf(EngineAbortedError);
  const controller = new AbortController();
  const running = pool.screen(SYNTHEA, AS_OF, undefined, { signal: controller.signal });
  controller.abort();
  await expect(running).rejects.toBeInstanceOf(EngineAbortedError);
  expect((await pool.screen(SLE, AS_OF)).patientId).toBe(SLE.patientId);
}, 60_000);

test('the queue is bounded', async () => {
  // One running, two queued (maxQueue 2), the fourth is refused at once.
  const accepted = [1, 2, 3].map(() => pool.screen(SLE, AS_OF));
  await expect(pool.screen(SLE, AS_OF)).rejects.toBeInstanceOf(EngineOverloadedError);
  await Promise.all(accepted);
  expect(pool.stats()).toMatchObject({ busy: 0, queued: 0 });
}, 60_000);

test('a pool that cannot build its engine fails at start-up', async () => {
  await expect(createEnginePool({ size: 1, cqlDir: '/nonexistent' })).rejects.toBeInstanceOf(
    ConfigurationError,
  );
}, 60_000);

test('the in-process engine honours a deadline between definitions', async () => {
  await expect(
    local.screen(SLE, AS_OF, undefined, { deadline: Date.now() - 1 }),
  ).rejects.toBeInstanceOf(EngineDeadlineError);
  await expect(
    local.screen(SLE, AS_OF, undefined, { signal: AbortSignal.abort() }),
  ).rejects.toBeInstanceOf(EngineAbortedError);
  expect((await local.screen(SLE, AS_OF, undefined, { timeoutMs: 60_000 })).patientId).toBe(
    SLE.patientId,
  );
});
