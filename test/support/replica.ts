/**
 * The service as a separate process (`src/main.ts` under tsx), as a replica runs: its port read
 * from the "listening" log line. Issue 17's replica tests start two on one PostgreSQL database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Replica {
  readonly base: string;
  readonly process: ChildProcess;
  /** Log lines so far (JSON, as pino writes them). */
  readonly logs: string[];
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: nothing is flushed or closed. */
  kill(): Promise<void>;
}

/**
 * @param env - variables on top of a minimal environment (no PORT: a free one is taken).
 */
export async function startReplica(env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      TZ: 'UTC',
      HOST: '127.0.0.1',
      PORT: '0',
      ENGINE_WORKERS: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let partial = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`replica did not start: ${logs.slice(-5).join('\n')}`));
    }, 90_000);
    child.stdout.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      }
    });
    child.stderr.on('data', (b: Buffer) => logs.push(b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited (${String(code)}): ${logs.slice(-5).join('\n')}`));
    });
  });
  const ended = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await ended;
  };
  return {
    base: `http://127.0.0.1:${port}`,
    process: child,
    logs,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}
