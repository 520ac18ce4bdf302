/**
 * `npm run bench [-- --quick] [-- --workers N] [-- --cwd DIR] [-- --out FILE] [-- --memory-seconds S]`
 *
 * Starts the real service (a child process, `src/main.ts` under tsx, on 127.0.0.1, port 0) and
 * measures patient-view with full prefetch for four records: the SLE demo patient, a
 * Synthea-sized record (the four Synthea bundles of demo/synthea merged into one patient, about
 * 540 resources; no lupus, so each trial is ruled out by its gate criteria), the same history in
 * the SLE demo patient's record (`sle-500`: trials not ruled out are evaluated in full, the
 * costly case) and a generated 5,000-resource record (the Synthea resources repeated under new ids).
 * For each: median, p95 and p99 latency for sequential requests and at concurrency 10 and 50,
 * requests per second, server CPU time per request (from /proc, workers included) and peak RSS.
 * The floor, measured the same way: a bare node:http server that reads and parses the same body
 * and answers {"cards":[]}. Then memory over a run at concurrency 10 (60 s; flat or growing? RSS is a
 * saw-tooth, so the trend of its lows and highs per 10 s window is reported, not of the raw samples).
 *
 * Loopback only, bounded by request counts and time per phase; stops by itself. `--quick` is a
 * short sanity run. Output: a table on stdout and a JSON file under bench/results/ (gitignored).
 * Not a test: nothing here asserts a time. Linux only (/proc). The load generator runs in this
 * process and shares the machine's cores with the server, as any single-host benchmark does.
 * `--cwd DIR` runs the service of another checkout (e.g. an older commit for before/after figures);
 * `--only a,b` picks workloads; `--dump-bodies DIR` writes the request bodies (for profiling) and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

type Json = Record<string, unknown>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workers: { type: 'string' },
    cwd: { type: 'string' },
    out: { type: 'string' },
    label: { type: 'string' },
    'memory-seconds': { type: 'string' },
    only: { type: 'string' },
    'dump-bodies': { type: 'string' },
  },
});
const QUICK = args.quick;
const SERVICE_DIR = resolve(args.cwd ?? ROOT);
const MEMORY_SECONDS = Number(args['memory-seconds'] ?? (QUICK ? 10 : 60));

/** Per phase: at most this many requests, and at most this long. */
const PHASES = [
  { name: 'sequential', concurrency: 1, requests: QUICK ? 30 : 300, seconds: QUICK ? 5 : 20 },
  { name: 'c10', concurrency: 10, requests: QUICK ? 100 : 2000, seconds: QUICK ? 5 : 20 },
  { name: 'c50', concurrency: 50, requests: QUICK ? 200 : 4000, seconds: QUICK ? 5 : 20 },
] as const;

/** Above this sequential median, the concurrency phases of a workload are skipped. */
const SLOW_MS = 3000;

// ---------------------------------------------------------------- workloads

interface Workload {
  readonly name: string;
  readonly patientId: string;
  readonly resources: number;
  readonly body: Buffer;
}

const ENGINE_TYPES = new Set([
  'Condition',
  'Observation',
  'MedicationRequest',
  'MedicationStatement',
]);

function readBundle(path: string): Json[] {
  const bundle = JSON.parse(readFileSync(path, 'utf8')) as { entry?: { resource?: Json }[] };
  return (bundle.entry ?? []).flatMap((e) => (e.resource !== undefined ? [e.resource] : []));
}

/** Points every reference at the one patient (Synthea writes urn:uuid references). */
function retarget(resource: Json, patientId: string): Json {
  const copy = structuredClone(resource);
  for (const key of ['subject', 'patient']) {
    if (typeof copy[key] === 'object' && copy[key] !== null)
      copy[key] = { reference: `Patient/${patientId}` };
  }
  delete copy.encounter;
  delete copy.context;
  return copy;
}

function categoryOf(observation: Json): string {
  const categories = (observation.category ?? []) as { coding?: { code?: string }[] }[];
  const code = categories.flatMap((c) => c.coding ?? []).find((c) => c.code !== undefined)?.code;
  return code ?? 'laboratory';
}

/**
 * A patient-view request with every prefetch key of the measured service filled, as an EHR sends
 * it: each key answers its template (hooks/trial-matcher.json of the service's checkout): a type's
 * resources, Observations by category (those without a known one under laboratory) or by code.
 */
const TEMPLATES = (
  JSON.parse(readFileSync(join(SERVICE_DIR, 'hooks', 'trial-matcher.json'), 'utf8')) as {
    prefetch: Record<string, string>;
  }
).prefetch;

function hookRequest(patient: Json, resources: readonly Json[]): Buffer {
  const searchset = (list: readonly Json[]): Json => ({
    resourceType: 'Bundle',
    type: 'searchset',
    total: list.length,
    entry: list.map((resource) => ({
      fullUrl: `http://ehr.example/fhir/${String(resource.resourceType)}/${String(resource.id)}`,
      resource,
    })),
  });
  const byType = (type: string): Json[] => resources.filter((r) => r.resourceType === type);
  const known = ['vital-signs', 'survey', 'imaging', 'procedure', 'exam'];
  const codes = (resource: Json): string[] =>
    (
      ((resource.code as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ??
        []) as { system?: string; code?: string }[]
    ).map((c) => `${c.system ?? ''}|${c.code ?? ''}`);
  const prefetch: Json = {};
  for (const [key, template] of Object.entries(TEMPLATES)) {
    if (template.startsWith('Patient/')) {
      prefetch[key] = patient;
      continue;
    }
    const [path = '', query = ''] = template.split('?', 2);
    const params = new URLSearchParams(query.replace(/\|/g, '%7C'));
    let found = byType(path);
    const category = params.get('category');
    if (category !== null)
      found = found.filter((o) =>
        category === 'laboratory' ? !known.includes(categoryOf(o)) : categoryOf(o) === category,
      );
    const code = params.get('code');
    if (code !== null) {
      const wanted = new Set(code.split(','));
      found = found.filter((o) => codes(o).some((c) => wanted.has(c)));
    }
    prefetch[key] = searchset(found);
  }
  return Buffer.from(
    JSON.stringify({
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/bench', patientId: patient.id },
      prefetch,
    }),
  );
}

function buildWorkloads(): Workload[] {
  const workloads: Workload[] = [];
  // 1. The SLE demo patient, as the embedded demo server holds it.
  const sle = readBundle(join(ROOT, 'demo/patients/sle-eligible.json'));
  const slePatient = sle.find((r) => r.resourceType === 'Patient') as Json;
  const sleResources = sle.filter((r) => ENGINE_TYPES.has(String(r.resourceType)));
  workloads.push({
    name: 'sle-demo',
    patientId: String(slePatient.id),
    resources: sleResources.length + 1,
    body: hookRequest(slePatient, sleResources),
  });
  // 2. Synthea-sized: the four Synthea records merged into the first patient.
  const dir = join(ROOT, 'demo/synthea');
  const bundles = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readBundle(join(dir, f)));
  const patient = bundles[0]?.find((r) => r.resourceType === 'Patient') as Json;
  const patientId = String(patient.id);
  const synthea = bundles.flatMap((b) =>
    b.filter((r) => ENGINE_TYPES.has(String(r.resourceType))).map((r) => retarget(r, patientId)),
  );
  workloads.push({
    name: 'synthea-500',
    patientId,
    resources: synthea.length + 1,
    body: hookRequest(patient, synthea),
  });
  // 3. The same history in an SLE patient's record: the trials are not ruled out by their gates,
  //    so every criterion of the trials the patient may qualify for is evaluated (the costly case).
  const sleId = String(slePatient.id);
  const sleHistory = [
    ...sleResources,
    ...synthea.map((r) => ({ ...retarget(r, sleId), id: `sle-${String(r.id)}` })),
  ];
  workloads.push({
    name: 'sle-500',
    patientId: sleId,
    resources: sleHistory.length + 1,
    body: hookRequest(slePatient, sleHistory),
  });
  // 4. 5,000 resources: the same resources repeated under new ids.
  const large: Json[] = [];
  for (let copy = 0; large.length < 4999; copy++) {
    for (const r of synthea) {
      if (large.length >= 4999) break;
      large.push({ ...r, id: `${String(r.id)}-${copy}` });
    }
  }
  workloads.push({
    name: 'generated-5000',
    patientId,
    resources: large.length + 1,
    body: hookRequest(patient, large),
  });
  return args.only === undefined
    ? workloads
    : workloads.filter((w) => args.only?.split(',').includes(w.name));
}

// ---------------------------------------------------------------- processes

interface Server {
  readonly name: string;
  readonly port: number;
  readonly path: string;
  readonly child: ChildProcess;
}

const FLOOR_SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try { JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.statusCode = 400; }
    const body = '{"cards":[]}';
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));
`;

function waitForPort(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} did not start within 60 s`));
    }, 60_000);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (!line.includes('"listening"')) return;
      const port = (JSON.parse(line) as { port?: number }).port;
      if (typeof port === 'number') {
        clearTimeout(timer);
        // From now on the logs are drained unread: splitting them into lines would cost the load
        // generator CPU on the cores it shares with the server, and an unread pipe would stall it.
        lines.close();
        child.stdout?.resume();
        resolvePort(port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)}`));
    });
  });
}

async function startService(): Promise<Server> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    DEMO_FHIR: 'false',
    FEEDBACK_DB_PATH: ':memory:',
    BODY_LIMIT: '100mb',
    LOG_LEVEL: 'info',
    // Measure the evaluation, not the time budget (issue 5) or the resource cap.
    REQUEST_BUDGET_MS: '120000',
    FHIR_MAX_RESOURCES: '1000000',
    TZ: 'UTC',
  };
  if (args.workers !== undefined) env.ENGINE_WORKERS = args.workers;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: SERVICE_DIR,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await waitForPort(child, 'the service');
  return { name: 'service', port, path: '/cds-services/trial-matcher', child };
}

async function startFloor(): Promise<Server> {
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await waitForPort(child, 'the floor server');
  return { name: 'floor', port, path: '/cds-services/trial-matcher', child };
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU time (user + system, every thread) of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

// ---------------------------------------------------------------- load

interface PhaseResult {
  readonly phase: string;
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly reqPerSec: number;
  readonly cpuMsPerRequest: number;
  readonly peakRssMb: number;
  readonly cards?: number;
}

function post(
  agent: http.Agent,
  server: Server,
  body: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolveResponse, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: server.port,
        path: server.path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolveResponse({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** To one decimal. */
function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function runPhase(
  server: Server,
  body: Buffer,
  phase: { name: string; concurrency: number; requests: number; seconds: number },
): Promise<PhaseResult> {
  const pid = server.child.pid as number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: phase.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let cards: number | undefined;
  let peak = rssMb(pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 100);
  const cpuStart = cpuMs(pid);
  const started = performance.now();
  const deadline = started + phase.seconds * 1000;
  let issued = 0;
  async function loop(): Promise<void> {
    while (issued < phase.requests && performance.now() < deadline) {
      issued++;
      const t = performance.now();
      try {
        const res = await post(agent, server, body);
        latencies.push(performance.now() - t);
        if (res.status !== 200) errors++;
        else if (cards === undefined && server.name === 'service')
          cards = ((JSON.parse(res.text) as { cards?: unknown[] }).cards ?? []).length;
      } catch {
        errors++;
      }
    }
  }
  await Promise.all(Array.from({ length: phase.concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuMs(pid) - cpuStart;
  clearInterval(sampler);
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    phase: phase.name,
    concurrency: phase.concurrency,
    requests: latencies.length,
    errors,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    reqPerSec: round(latencies.length / elapsed),
    cpuMsPerRequest: round(cpu / Math.max(1, latencies.length)),
    peakRssMb: round(peak),
    ...(cards !== undefined ? { cards } : {}),
  };
}

/** RSS over one window of the memory run. */
interface MemoryWindow {
  readonly fromSecond: number;
  readonly minMb: number;
  readonly maxMb: number;
}

interface MemoryRun {
  readonly workload: string;
  readonly seconds: number;
  readonly concurrency: number;
  readonly requests: number;
  /** RSS once a second. */
  readonly rssMb: readonly number[];
  readonly firstHalfMeanMb: number;
  readonly secondHalfMeanMb: number;
  /** Consecutive windows of MEMORY_WINDOW_SECONDS. */
  readonly windows: readonly MemoryWindow[];
  /**
   * Least-squares slope of the window minima after the first window (MB per minute). RSS is a
   * saw-tooth (the heaps grow until a collection); its lows are what is left after collections, so
   * a leak shows as rising minima, while a slope of the raw samples mostly says where the teeth fell.
   */
  readonly minimaSlopeMbPerMinute: number;
  /** The same for the window maxima (the peaks between collections). */
  readonly maximaSlopeMbPerMinute: number;
}

const MEMORY_WINDOW_SECONDS = 10;

/** Least-squares slope of `ys` sampled every `stepSeconds`, in units per minute. */
function slopePerMinute(ys: readonly number[], stepSeconds: number): number {
  if (ys.length < 2) return 0;
  const xMean = (ys.length - 1) / 2;
  const yMean = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - xMean) * (y - yMean);
    den += (x - xMean) ** 2;
  });
  return Math.round(((num / den) * 60 * 100) / stepSeconds) / 100;
}

async function memoryRun(server: Server, workload: Workload): Promise<MemoryRun> {
  const pid = server.child.pid as number;
  const concurrency = 10;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(round(rssMb(pid))), 1000);
  const deadline = performance.now() + MEMORY_SECONDS * 1000;
  let requests = 0;
  async function loop(): Promise<void> {
    while (performance.now() < deadline) {
      try {
        await post(agent, server, workload.body);
        requests++;
      } catch {
        // counted by the latency phases; here only memory matters
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop));
  clearInterval(sampler);
  agent.destroy();
  const half = Math.floor(samples.length / 2);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const windows: MemoryWindow[] = [];
  // A last window of at least half the length counts (the sampler may miss the final second).
  for (
    let from = 0;
    from + MEMORY_WINDOW_SECONDS / 2 <= samples.length;
    from += MEMORY_WINDOW_SECONDS
  ) {
    const window = samples.slice(from, from + MEMORY_WINDOW_SECONDS);
    windows.push({ fromSecond: from, minMb: Math.min(...window), maxMb: Math.max(...window) });
  }
  // The first window holds the start-up growth (JIT, heaps reaching their working size).
  const steady = windows.slice(1);
  return {
    workload: workload.name,
    seconds: MEMORY_SECONDS,
    concurrency,
    requests,
    rssMb: samples,
    firstHalfMeanMb: round(mean(samples.slice(0, half))),
    secondHalfMeanMb: round(mean(samples.slice(half))),
    windows,
    minimaSlopeMbPerMinute: slopePerMinute(
      steady.map((w) => w.minMb),
      MEMORY_WINDOW_SECONDS,
    ),
    maximaSlopeMbPerMinute: slopePerMinute(
      steady.map((w) => w.maxMb),
      MEMORY_WINDOW_SECONDS,
    ),
  };
}

// ---------------------------------------------------------------- main

function pad(value: string | number, width: number): string {
  return String(value).padStart(width);
}

async function main(): Promise<void> {
  const workloads = buildWorkloads();
  const dump = args['dump-bodies'];
  if (dump !== undefined) {
    // For profiling: the request bodies, to replay against a service started by hand.
    mkdirSync(dump, { recursive: true });
    for (const w of workloads) writeFileSync(join(dump, `${w.name}.json`), w.body);
    process.stdout.write(`request bodies written to ${dump}\n`);
    return;
  }
  const results: {
    workload: string;
    resources: number;
    bodyKb: number;
    floor: PhaseResult[];
    service: PhaseResult[];
  }[] = [];
  const floor = await startFloor();
  let service: Server | undefined;
  try {
    service = await startService();
    for (const workload of workloads) {
      const row = {
        workload: workload.name,
        resources: workload.resources,
        bodyKb: Math.round(workload.body.length / 1024),
        floor: [] as PhaseResult[],
        service: [] as PhaseResult[],
      };
      // Warm-up (JIT, every worker's first patient): a few requests, not measured.
      for (const server of [floor, service]) {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
        await Promise.all(
          Array.from({ length: 4 }, () =>
            post(agent, server, workload.body).catch(() => undefined),
          ),
        );
        agent.destroy();
      }
      for (const phase of PHASES) {
        const sequential = row.service[0];
        if (phase.concurrency > 1 && sequential !== undefined && sequential.p50 > SLOW_MS) {
          // Concurrency would only queue behind multi-second evaluations: bounded run instead.
          process.stderr.write(
            `${workload.name} ${phase.name}: skipped (sequential p50 > ${SLOW_MS} ms)\n`,
          );
          continue;
        }
        row.floor.push(await runPhase(floor, workload.body, phase));
        row.service.push(await runPhase(service, workload.body, phase));
        process.stderr.write(
          `${workload.name} ${phase.name}: service p50 ${String(row.service.at(-1)?.p50)} ms, floor p50 ${String(row.floor.at(-1)?.p50)} ms\n`,
        );
      }
      results.push(row);
    }
    const memoryWorkload = workloads.find((w) => w.name === 'synthea-500') ?? workloads[0];
    // Memory on a fresh service, so that the 5,000-resource phases do not weigh on it.
    let memory: MemoryRun | undefined;
    if (memoryWorkload !== undefined && MEMORY_SECONDS > 0) {
      await stop(service);
      service = await startService();
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      await Promise.all(
        Array.from({ length: 8 }, () =>
          post(agent, service as Server, memoryWorkload.body).catch(() => undefined),
        ),
      );
      agent.destroy();
      memory = await memoryRun(service, memoryWorkload);
    }

    // Table for people.
    const header = `${'workload'.padEnd(15)}${pad('res', 6)}${pad('KiB', 7)} ${'phase'.padEnd(11)}${pad('p50', 8)}${pad('p95', 8)}${pad('p99', 8)}${pad('req/s', 8)}${pad('CPU/req', 9)}${pad('RSS MB', 8)}${pad('floor p50', 10)}${pad('x floor', 8)}${pad('err', 5)}`;
    const lines = [header, '-'.repeat(header.length)];
    for (const row of results) {
      row.service.forEach((s, i) => {
        const f = row.floor[i] as PhaseResult;
        if (s.requests === 0) return;
        lines.push(
          `${row.workload.padEnd(15)}${pad(row.resources, 6)}${pad(row.bodyKb, 7)} ${s.phase.padEnd(11)}${pad(s.p50, 8)}${pad(s.p95, 8)}${pad(s.p99, 8)}${pad(s.reqPerSec, 8)}${pad(s.cpuMsPerRequest, 9)}${pad(s.peakRssMb, 8)}${pad(f.p50, 10)}${pad((s.p50 / f.p50).toFixed(1), 8)}${pad(s.errors, 5)}`,
        );
      });
    }
    if (memory !== undefined) {
      lines.push(
        '',
        `memory (${memory.workload}, ${memory.seconds} s at concurrency ${memory.concurrency}, ${memory.requests} requests, ` +
          `${Math.round(memory.requests / memory.seconds)} req/s): RSS first half ${memory.firstHalfMeanMb} MB, second half ${memory.secondHalfMeanMb} MB, ` +
          `min ${Math.min(...memory.rssMb)} max ${Math.max(...memory.rssMb)}`,
        `  per ${MEMORY_WINDOW_SECONDS} s window, lowest / highest RSS: ` +
          memory.windows.map((w) => `${Math.round(w.minMb)}/${Math.round(w.maxMb)}`).join('  '),
        `  trend after the first window: lows ${memory.minimaSlopeMbPerMinute} MB/min, highs ${memory.maximaSlopeMbPerMinute} MB/min`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);

    const report = {
      label: args.label ?? null,
      date: new Date().toISOString(),
      quick: QUICK,
      serviceDir: SERVICE_DIR,
      engineWorkers: args.workers ?? 'default (cores)',
      node: process.version,
      cpus: (await import('node:os')).availableParallelism(),
      phases: PHASES,
      results,
      memory,
    };
    const out =
      args.out ??
      join(
        ROOT,
        'bench/results',
        `bench-${report.date.replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`,
      );
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${out}\n`);
  } finally {
    if (service !== undefined) await stop(service);
    await stop(floor);
  }
}

await main();
