/**
 * Load test (issue 5): drives the real service over loopback at a fixed concurrency for a bounded
 * time and number of requests, with realistic prefetch (the demo patients' records as an EHR would
 * send them), and reports errors, latency percentiles and the service's memory before and after.
 *
 *   npm run load -- [--concurrency 50] [--duration 60] [--max-requests 100000]
 *                   [--fetch-share 0.1] [--url http://127.0.0.1:3000]
 *                   [--feedback-flood 0] [--feedback-entries 100] [--feedback-max 100000]
 *
 * --feedback-flood N runs N feedback senders beside the hook load (issue 15): each posts bodies of
 * --feedback-entries entries (new card uuids, so every entry is stored; up to 30,000, which the
 * service refuses past its 100-entry cap) back to back until the hook
 * load ends or --feedback-max bodies were sent. The report then shows the feedback statuses, and
 * the hook answers given up on the time budget or shed by the engine (read from the service's log
 * when the script started it) with their share of all hook calls.
 *
 * Without --url it starts the service itself (`tsx src/main.ts`, embedded demo FHIR server, free
 * port, in-memory feedback database) and stops it at the end. Only loopback URLs are accepted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    'max-requests': { type: 'string', default: '100000' },
    'fetch-share': { type: 'string', default: '0.1' },
    url: { type: 'string' },
    'feedback-flood': { type: 'string', default: '0' },
    'feedback-entries': { type: 'string', default: '100' },
    'feedback-max': { type: 'string', default: '100000' },
  },
});
const concurrency = Math.min(500, Math.max(1, Number(values.concurrency)));
const durationMs = Math.min(600, Math.max(1, Number(values.duration))) * 1000;
const maxRequests = Math.min(1_000_000, Math.max(1, Number(values['max-requests'])));
const fetchShare = Math.min(1, Math.max(0, Number(values['fetch-share'])));
const feedbackFlood = Math.min(100, Math.max(0, Math.floor(Number(values['feedback-flood']) || 0)));
// Up to 30,000 entries per body: the flood issue 15 found (the service refuses more than 100 with 413).
const feedbackEntries = Math.min(30_000, Math.max(1, Number(values['feedback-entries']) || 100));
const feedbackMax = Math.min(1_000_000, Math.max(1, Number(values['feedback-max']) || 100_000));

/** Hook answers the service logged as given up on the time budget or shed (when started here). */
const serviceOutcomes = { 'budget-exceeded': 0, overloaded: 0 };

const PATIENTS = [
  'sle-eligible',
  'sle-missing-labs',
  'ssc-ild',
  'da2c7b0a-791a-4b8f-9a30-dc3d8cf1ec75',
];
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host))
    throw new Error(`load tests run against loopback only, not ${host}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** The resident memory of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Math.round(Number(match[1]) / 1024);
  } catch {
    return undefined;
  }
}

async function startService(): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      FEEDBACK_DB_PATH: ':memory:',
      DEMO_FHIR: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The service's log (warn and above by default): count the no-cards answers by outcome.
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (process.env.LOAD_SERVICE_LOG !== undefined) process.stdout.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const outcome = /"outcome":"(budget-exceeded|overloaded)"/.exec(line)?.[1];
      if (outcome === 'budget-exceeded' || outcome === 'overloaded') serviceOutcomes[outcome]++;
    }
  });
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode})`);
    try {
      // Ready, not only alive: the service listens (healthz) before its engine is built.
      if ((await fetch(`${base}/readyz`)).ok) return { base, child };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGTERM');
  throw new Error('the service did not start within 120 s');
}

/** Each patient's prefetch as an EHR would send it, read once from the embedded server. */
async function loadPrefetch(base: string): Promise<Map<string, Record<string, unknown>>> {
  const discovery = (await (await fetch(`${base}/cds-services`)).json()) as {
    services: { id: string; prefetch?: Record<string, string> }[];
  };
  const templates = discovery.services[0]?.prefetch ?? {};
  const result = new Map<string, Record<string, unknown>>();
  for (const patientId of PATIENTS) {
    const prefetch: Record<string, unknown> = {};
    for (const [key, template] of Object.entries(templates)) {
      const query = template.replace('{{context.patientId}}', patientId);
      let res = await fetch(`${base}/demo/fhir/${query}`);
      // The demo server refuses `_sort` (issue 15): ask again without it, as the service does.
      if (res.status === 400)
        res = await fetch(`${base}/demo/fhir/${query.replace(/&_sort=[^&]*/, '')}`);
      if (!res.ok)
        throw new Error(`the demo server answered ${res.status} for prefetch key ${key}`);
      prefetch[key] = await res.json();
    }
    result.set(patientId, prefetch);
  }
  return result;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  if (values.url !== undefined) assertLoopback(values.url);
  const started = values.url === undefined ? await startService() : undefined;
  const base = values.url?.replace(/\/+$/, '') ?? started?.base ?? '';
  const pid = started?.child.pid;
  try {
    const prefetch = await loadPrefetch(base);
    // Warm up: one call per patient (the first evaluation builds caches).
    for (const patientId of PATIENTS) await call(patientId, false);
    const memoryBefore = rssMiB(pid);

    const latencies: number[] = [];
    const statuses = new Map<string, number>();
    let emptyAnswers = 0;
    let sent = 0;
    const deadline = Date.now() + durationMs;

    async function call(patientId: string, fetchAll: boolean): Promise<number> {
      const res = await fetch(`${base}/cds-services/trial-matcher`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: randomUUID(),
          context: { userId: 'Practitioner/example', patientId },
          ...(fetchAll
            ? { fhirServer: `${base}/demo/fhir` }
            : { prefetch: prefetch.get(patientId) }),
        }),
      });
      const body = (await res.json()) as { cards?: unknown[] };
      if (res.status === 200 && body.cards?.length === 0 && patientId.startsWith('s'))
        emptyAnswers++;
      return res.status;
    }

    async function worker(index: number): Promise<void> {
      let i = index;
      while (Date.now() < deadline && sent < maxRequests) {
        sent++;
        const patientId = PATIENTS[i++ % PATIENTS.length] as string;
        const t0 = performance.now();
        let key: string;
        try {
          key = String(await call(patientId, Math.random() < fetchShare));
        } catch (error) {
          key = `network: ${(error as Error).name}`;
        }
        latencies.push(performance.now() - t0);
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    }

    const feedbackStatuses = new Map<string, number>();
    const feedbackLatencies: number[] = [];
    let hookLoadDone = false;
    /** Posts feedback bodies back to back until the hook load ends or feedbackMax were sent. */
    async function feedbackSender(): Promise<void> {
      while (!hookLoadDone && Date.now() < deadline && feedbackLatencies.length < feedbackMax) {
        const body = JSON.stringify({
          feedback: Array.from({ length: feedbackEntries }, () => ({
            card: randomUUID(),
            outcome: 'overridden',
            overrideReason: {
              // With the display, as EHRs send it (and as versions before issue 15 required).
              reason: {
                system: 'urn:cds-trial-matcher:override-reason',
                code: 'patient-declined',
                display: 'Patient declined',
              },
            },
            outcomeTimestamp: new Date().toISOString(),
          })),
        });
        const t0 = performance.now();
        let key: string;
        try {
          const res = await fetch(`${base}/cds-services/trial-matcher/feedback`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          key = String(res.status);
        } catch (error) {
          key = `network: ${(error as Error).name}`;
        }
        feedbackLatencies.push(performance.now() - t0);
        feedbackStatuses.set(key, (feedbackStatuses.get(key) ?? 0) + 1);
      }
    }

    const t0 = Date.now();
    const outcomesBefore = { ...serviceOutcomes };
    const flood = Promise.all(Array.from({ length: feedbackFlood }, () => feedbackSender()));
    await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
    hookLoadDone = true;
    await flood;
    const elapsed = (Date.now() - t0) / 1000;
    // Let the service's last log lines arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    feedbackLatencies.sort((a, b) => a - b);
    const noCards = {
      budgetExceeded: serviceOutcomes['budget-exceeded'] - outcomesBefore['budget-exceeded'],
      overloaded: serviceOutcomes.overloaded - outcomesBefore.overloaded,
    };
    const memoryAfter = rssMiB(pid);
    latencies.sort((a, b) => a - b);
    const errors = [...statuses].filter(([k]) => k !== '200').reduce((n, [, c]) => n + c, 0);
    const report = {
      concurrency,
      durationS: Math.round(elapsed * 10) / 10,
      requests: latencies.length,
      throughputPerS: Math.round((latencies.length / elapsed) * 10) / 10,
      statuses: Object.fromEntries(statuses),
      errors,
      emptyCardsForDiseasePatients: emptyAnswers,
      latencyMs: Object.fromEntries(
        [50, 90, 95, 99].map((p) => [`p${p}`, Math.round(percentile(latencies, p))]),
      ),
      maxLatencyMs: Math.round(latencies.at(-1) ?? 0),
      serviceRssMiB: { before: memoryBefore, after: memoryAfter },
      ...(started !== undefined
        ? {
            noCardsAnswers: {
              ...noCards,
              share:
                latencies.length === 0
                  ? 0
                  : Math.round(
                      ((noCards.budgetExceeded + noCards.overloaded) / latencies.length) * 1000,
                    ) / 1000,
            },
          }
        : {}),
      ...(feedbackFlood > 0
        ? {
            feedbackFlood: {
              senders: feedbackFlood,
              entriesPerBody: feedbackEntries,
              bodies: feedbackLatencies.length,
              statuses: Object.fromEntries(feedbackStatuses),
              latencyMs: Object.fromEntries(
                [50, 99].map((p) => [`p${p}`, Math.round(percentile(feedbackLatencies, p))]),
              ),
            },
          }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (errors > 0) process.exitCode = 1;
  } finally {
    if (started !== undefined) {
      started.child.kill('SIGTERM');
      await new Promise((resolve) => started.child.once('exit', resolve));
    }
  }
}

await main();
