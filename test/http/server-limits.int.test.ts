/**
 * The service process as started by `npm start` (src/main.ts), over loopback: its connection
 * limits and start-up checks (issue 15 items 2, 7 and 11).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeKey } from '../support/jwt.js';

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
}

function spawnService(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', TZ: 'UTC', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What each spawned process wrote to stdout (its log lines). */
const stdout = new Map<ChildProcess, string>();

/** Resolves with the port once the process logs 'listening'. */
function listening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const out = (stdout.get(child) ?? '') + chunk.toString();
      stdout.set(child, out);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', (code) => {
      reject(new Error(`the service exited (${String(code)}) before listening`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      resolve({ code, stderr });
    }),
  );
}

/** Writes `chunks` one by one, `everyMs` apart, until the server answers or closes. */
function trickle(
  port: number,
  chunks: readonly string[],
  everyMs: number,
): Promise<{ answer: string; sent: number }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < chunks.length && !socket.destroyed) socket.write(chunks[sent++] ?? '');
    }, everyMs);
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, sent });
    });
  });
}

describe('the service process', () => {
  let dir: string;
  let issuers: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'server-limits-'));
    issuers = join(dir, 'issuers.json');
    const key = await makeKey('ES384');
    writeFileSync(
      issuers,
      JSON.stringify([{ iss: 'https://ehr.example.org', jwks: { keys: [key.publicJwk] } }]),
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with issuers but no PUBLIC_BASE_URL, naming the variable', async () => {
    const { code, stderr } = await exited(
      spawnService({ CDS_TRUSTED_ISSUERS: issuers, PORT: '0', FEEDBACK_DB_PATH: ':memory:' }),
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/PUBLIC_BASE_URL is required when CDS_TRUSTED_ISSUERS is set/);
  });

  describe('with trusted issuers and short timeouts', () => {
    let service: Started;
    beforeAll(async () => {
      const child = spawnService({
        CDS_TRUSTED_ISSUERS: issuers,
        PUBLIC_BASE_URL: 'https://cds.example.org',
        PORT: '0',
        ENGINE_WORKERS: '0',
        FEEDBACK_DB_PATH: ':memory:',
        HEADERS_TIMEOUT_MS: '1000',
        REQUEST_TIMEOUT_MS: '2000',
        MAX_CONNECTIONS: '4',
      });
      service = { child, port: await listening(child) };
    }, 60_000);
    afterAll(async () => {
      const done = exited(service.child);
      service.child.kill('SIGTERM');
      await done;
    });

    it('has the demo FHIR server off unless DEMO_FHIR=true', async () => {
      const res = await fetch(`http://127.0.0.1:${service.port}/demo/fhir/metadata`);
      expect(res.status).toBe(404);
    });

    it('drops a client that sends its headers slowly, once the headers timeout passes', async () => {
      // 60 header lines, one every 100 ms: 6 s if the server let it finish
      const chunks = [
        'GET /healthz HTTP/1.1\r\nHost: x\r\n',
        ...Array.from({ length: 60 }, (_, i) => `X-Slow-${String(i)}: y\r\n`),
        '\r\n',
      ];
      const { answer, sent } = await trickle(service.port, chunks, 100);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(sent).toBeLessThan(chunks.length);
    }, 20_000);

    it('drops a client that sends its body slowly, once the request timeout passes', async () => {
      const body = 'x'.repeat(80);
      const chunks = [
        `POST /cds-services/trial-matcher/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\n\r\n`,
        ...body.split(''),
      ];
      const { answer, sent } = await trickle(service.port, chunks, 100);
      // 401 at once (no token), then the connection is dropped while the body still trickles
      expect(answer).toMatch(/^HTTP\/1\.1 401[^]*HTTP\/1\.1 408/);
      expect(sent).toBeLessThan(chunks.length);
    }, 20_000);

    it('closes connections past MAX_CONNECTIONS and serves again once they are gone', async () => {
      const open: Socket[] = [];
      for (let i = 0; i < 4; i++) {
        const socket = connect(service.port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        open.push(socket);
      }
      const refused = await trickle(service.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], 10);
      expect(refused.answer).toBe('');
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const res = await fetch(`http://127.0.0.1:${service.port}/healthz`);
      expect(res.status).toBe(200);
      expect(stdout.get(service.child)).toMatch(
        /"dropped":1,"maxConnections":4,"msg":"connections closed on arrival: MAX_CONNECTIONS are open"/,
      );
    });
  });
});
