/**
 * A throwaway PostgreSQL cluster for the tests that need a real server (issue 17): initdb in a temp
 * directory, `postgres` on 127.0.0.1 and a free port, stopped and deleted by `stop()`.
 *
 * PostgreSQL refuses to run as root (CI and these machines run tests as root): the cluster is then
 * owned by and run as `nobody` (`runuser`). The binaries are found in PG_BIN, else
 * /usr/lib/postgresql/<15..17>/bin, else on PATH; `.ci/run` installs them where missing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  readonly url: string;
  /** A fresh, empty database on the cluster; its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown) and deletes its directory. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data (the database "goes away"); `start()` brings it back. */
  shutdown(): Promise<void>;
  start(): Promise<void>;
}

function binDir(): string {
  const candidates = [
    process.env.PG_BIN,
    ...['17', '16', '15'].map((v) => `/usr/lib/postgresql/${v}/bin`),
  ].filter((d): d is string => d !== undefined && d !== '');
  const found = candidates.find((d) => existsSync(join(d, 'initdb')));
  if (found !== undefined) return found;
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb !== '') return join(initdb, '..');
  } catch {
    // not on PATH either
  }
  throw new Error(
    'PostgreSQL binaries not found (initdb): install PostgreSQL 15+ (apt-get install -y postgresql) or set PG_BIN',
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

const asRoot = process.getuid?.() === 0;
const RUN_AS = 'nobody';

function run(bin: string, args: readonly string[]): string[] {
  return asRoot ? ['runuser', '-u', RUN_AS, '--', bin, ...args] : [bin, ...args];
}

async function waitUntilReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited: ${log()}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > until) throw new Error(`postgres did not start: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts a new cluster (about a second: initdb without fsync, a small server). */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
  const data = join(dir, 'data');
  if (asRoot) {
    chownSync(dir, 65534, 65534);
    chmodSync(dir, 0o700);
  }
  const [initCmd, ...initArgs] = run(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  execFileSync(initCmd as string, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    const [cmd, ...args] = run(join(bin, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=16MB',
    ]);
    output = '';
    const proc = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    proc.stderr.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    child = proc;
    await waitUntilReady(url, proc, () => output);
  };

  const shutdown = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    // SIGINT is postgres' fast shutdown (clients are disconnected). runuser does not pass
    // signals on: signal the postmaster itself, named by its pid file.
    const exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        resolve();
      }),
    );
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(Number.isInteger(pid) && pid > 0 ? pid : (proc.pid as number), 'SIGINT');
    await exited;
  };

  await start();
  let databases = 0;
  return {
    url,
    async createDatabase() {
      const name = `t${++databases}_${process.pid}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      return url.replace(/\/postgres$/, `/${name}`);
    },
    async stop() {
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
    shutdown,
    start,
  };
}
