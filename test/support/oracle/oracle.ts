/**
 * The differential oracle: the project's engine (patched cql-execution, in this process) against the
 * unpatched library (upstream-engine.ts, a child process), over the same ELM, value sets and
 * normalised records. Quantity normalisation and the rest of toPatientBundle are input, not patches:
 * both sides get the same normalised bundle. Every criterion's result and evidence list must be
 * equal; `compareScreenings` lists the differences in words.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EngineInputs } from '../../../src/engine/load-engine.js';
import type { PatientScreening } from '../../../src/domain/screening.js';
import type { PatientBundle } from '../../../src/fhir/patient-bundle.js';
import type { OracleAnswer, OracleTrialCriteria } from './upstream-engine.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./upstream-engine.ts', import.meta.url));

export interface OracleRecord {
  readonly name: string;
  readonly patient: PatientBundle;
}

interface Pending {
  readonly name: string;
  readonly resolve: (trials: readonly OracleTrialCriteria[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The unpatched library in a child process. `screen` may be called many times before the first
 * answer comes back: records are evaluated in order while this process does its own work.
 */
export class UpstreamOracle {
  private readonly pending: Pending[] = [];
  private ended: Error | undefined;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    reader: Interface,
    /** Whether the child's cql-execution runs upstream's code (no patch installed there). */
    readonly unpatched: boolean,
    stderr: () => string,
  ) {
    reader.on('line', (line) => {
      const answer = JSON.parse(line) as OracleAnswer;
      const next = this.pending.shift();
      if (next === undefined) return;
      if ('error' in answer)
        next.reject(new Error(`${next.name}: the unpatched library failed: ${answer.error}`));
      else next.resolve(answer.trials);
    });
    child.once('exit', (code) => {
      this.ended = new Error(`the oracle process ended (exit code ${String(code)}): ${stderr()}`);
      for (const p of this.pending.splice(0)) p.reject(this.ended);
    });
  }

  static async start(inputs: EngineInputs): Promise<UpstreamOracle> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const reader = createInterface({ input: child.stdout, crlfDelay: Infinity });
    const ready = await new Promise<{ upstreamAndExecute: boolean }>((resolve, reject) => {
      const onExit = (code: number | null): void => {
        reject(
          new Error(`the oracle process failed to start (exit code ${String(code)}): ${stderr}`),
        );
      };
      child.once('exit', onExit);
      reader.once('line', (line) => {
        child.off('exit', onExit);
        resolve(JSON.parse(line) as { upstreamAndExecute: boolean });
      });
      child.stdin.write(
        `${JSON.stringify({
          libraries: inputs.elm.all(),
          trials: inputs.trials,
          valueSets: inputs.valueSets,
        })}\n`,
      );
    });
    return new UpstreamOracle(child, reader, ready.upstreamAndExecute, () => stderr);
  }

  /** The unpatched library's criterion results for one record. */
  screen(record: OracleRecord, asOf: string): Promise<readonly OracleTrialCriteria[]> {
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.pending.push({ name: record.name, resolve, reject });
      this.child.stdin.write(
        `${JSON.stringify({ name: record.name, asOf, bundle: record.patient.bundle })}\n`,
      );
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.ended !== undefined) return;
    const exited = new Promise<void>((resolve) =>
      this.child.once('exit', () => {
        resolve();
      }),
    );
    this.child.stdin.end();
    await exited;
  }
}

function describeResult(
  result: { result: string; evidence: readonly string[] } | undefined,
): string {
  if (result === undefined) return 'absent';
  return `${result.result} [${result.evidence.join(', ')}]`;
}

/**
 * The differences between the engine's screening and the unpatched library's results, one line
 * each (`record trial criterion: engine … / upstream …`); empty when they agree.
 */
export function compareScreenings(
  name: string,
  engine: PatientScreening,
  upstream: readonly OracleTrialCriteria[],
): string[] {
  const differences: string[] = [];
  const upstreamTrials = new Map(upstream.map((t) => [t.id, t]));
  for (const trial of engine.trials) {
    const other = upstreamTrials.get(trial.id);
    if (other === undefined) {
      differences.push(`${name} ${trial.id}: no upstream result`);
      continue;
    }
    const key = (c: { id: string; cohort?: string }): string =>
      c.cohort === undefined ? c.id : `${c.cohort}/${c.id}`;
    const theirs = new Map(other.criteria.map((c) => [key(c), c]));
    const ours = new Map(trial.criteria.map((c) => [key(c), c]));
    for (const id of new Set([...ours.keys(), ...theirs.keys()])) {
      const a = ours.get(id);
      const b = theirs.get(id);
      const same =
        a !== undefined &&
        b !== undefined &&
        a.result === b.result &&
        a.evaluationError === b.evaluationError &&
        a.evidence.length === b.evidence.length &&
        a.evidence.every((e, i) => e === b.evidence[i]);
      if (!same)
        differences.push(
          `${name} ${trial.id} ${id}: engine ${describeResult(a)}${a?.evaluationError === true ? ' (evaluation error)' : ''}` +
            ` / upstream ${describeResult(b)}${b?.evaluationError === true ? ' (evaluation error)' : ''}`,
        );
    }
  }
  for (const id of upstreamTrials.keys())
    if (!engine.trials.some((t) => t.id === id))
      differences.push(`${name} ${id}: no engine result`);
  return differences;
}
