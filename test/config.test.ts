import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  cgroupCpuLimit,
  configErrorLine,
  defaultEngineWorkers,
  loadConfig,
  MAX_DEFAULT_ENGINE_WORKERS,
  unknownVariableWarnings,
} from '../src/config.js';
import { ConfigurationError } from '../src/shared/errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      logLevel: 'info',
      corsOrigins: ['https://sandbox.cds-hooks.org'],
      bodyLimit: '5mb',
      fhirTimeoutMs: 5000,
      fhirMaxPages: 10,
      demoFhir: true,
      siteCodes: [],
      keepAliveTimeoutMs: 65000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses every variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const map = join(dir, 'site.json');
    writeFileSync(
      map,
      JSON.stringify([
        {
          from: { system: 'urn:oid:1.2', code: '99' },
          to: { system: 'urn:cds-trial-matcher:code', code: 'SLEDAI-2K' },
        },
      ]),
    );
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      CORS_ORIGINS: 'https://a.example, http://localhost:8080',
      DEMO_FHIR: 'false',
      PUBLIC_BASE_URL: 'https://cds.example.org/',
      SITE_CODE_MAP: map,
      FHIR_MAX_PAGES: '3',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      corsOrigins: ['https://a.example', 'http://localhost:8080'],
      demoFhir: false,
      publicBaseUrl: 'https://cds.example.org',
      fhirMaxPages: 3,
    });
    expect(config.siteCodes).toHaveLength(1);
  });

  it.each([
    ['PORT', 'abc'],
    ['DEMO_FHIR', 'maybe'],
    ['CORS_ORIGINS', 'https://a.example/path'],
    ['BODY_LIMIT', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['SITE_CODE_MAP', '/nonexistent/site.json'],
  ])('rejects an invalid %s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigurationError);
  });

  describe('with CDS_TRUSTED_ISSUERS (issue 15)', () => {
    const issuersFile = (): string => {
      const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'issuers.json');
      writeFileSync(
        file,
        JSON.stringify([
          { iss: 'https://ehr.example.org', jwksUrl: 'https://ehr.example.org/jwks.json' },
        ]),
      );
      return file;
    };

    it('switches the demo FHIR server off unless DEMO_FHIR=true says otherwise', () => {
      const CDS_TRUSTED_ISSUERS = issuersFile();
      const PUBLIC_BASE_URL = 'https://cds.example.org';
      expect(loadConfig({ CDS_TRUSTED_ISSUERS, PUBLIC_BASE_URL }).demoFhir).toBe(false);
      expect(loadConfig({ CDS_TRUSTED_ISSUERS, PUBLIC_BASE_URL, DEMO_FHIR: 'true' }).demoFhir).toBe(
        true,
      );
      expect(loadConfig({ DEMO_FHIR: 'false' }).demoFhir).toBe(false);
    });

    it('requires PUBLIC_BASE_URL, naming it', () => {
      expect(() => loadConfig({ CDS_TRUSTED_ISSUERS: issuersFile() })).toThrow(
        /PUBLIC_BASE_URL is required when CDS_TRUSTED_ISSUERS is set/,
      );
    });
  });

  it('refuses a headers timeout above the request timeout', () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000', REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      /HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/,
    );
    expect(loadConfig({})).toMatchObject({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      maxConnections: 1000,
    });
  });
});

describe('configuration errors and warnings (issue 18)', () => {
  const failure = (env: Record<string, string>): Error => {
    try {
      loadConfig(env);
    } catch (error) {
      return error as Error;
    }
    throw new Error('loadConfig accepted it');
  };

  it.each([
    ['HOST', 'localhost:3000'],
    ['HOST', 'http://0.0.0.0'],
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DEMO_FHIR', 'maybe'],
    ['CORS_ORIGINS', 'https://a.example/path'],
    ['BODY_LIMIT', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['ENGINE_WORKERS', '-1'],
    ['SCREEN_WORKERS', 'many'],
    ['REQUEST_BUDGET_MS', '10'],
    ['DATABASE_URL', 'mysql://u:secret@db/x'],
    ['DATABASE_POOL_SIZE', '0'],
    ['PUBLIC_BASE_URL', 'cds.example.org'],
    ['FHIR_SERVER_ALLOWLIST', 'ftp://x.example'],
    ['CARD_SMART_LINK_URL', 'not a url'],
    ['SITE_CODE_MAP', '/nonexistent/site.json'],
    ['CDS_TRUSTED_ISSUERS', '/nonexistent/issuers.json'],
    ['CQL_DIR', '/nonexistent/cql'],
    ['CQL_DIR', '/tmp'],
    ['HOOKS_DIR', '/nonexistent/hooks'],
    ['DEMO_DIR', '/nonexistent/demo'],
  ])('names %s in a one-line error (%s)', (name, value) => {
    const error = failure({
      [name]: value,
      PUBLIC_BASE_URL: 'https://cds.example.org',
      ...(name === 'PUBLIC_BASE_URL' ? { PUBLIC_BASE_URL: value } : {}),
    });
    expect(error).toBeInstanceOf(ConfigurationError);
    const line = configErrorLine(error);
    expect(line).toContain(name);
    expect(line).not.toContain('\n');
  });

  it('never echoes a value, which may be a secret', () => {
    expect(configErrorLine(failure({ DATABASE_URL: 'mysql://u:s3cret@db/x' }))).not.toContain(
      's3cret',
    );
  });

  it('refuses HOST with a port at start-up: exit 1, one line naming HOST, no stack trace', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const run = promisify(execFile);
    const failed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOST: 'localhost:3000', ENGINE_WORKERS: '0' },
    }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failed).toBeDefined();
    expect(failed?.code).toBe(1);
    const lines = (failed?.stderr ?? '').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^invalid configuration: HOST: /);
    expect(failed?.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('warns about variables that look like ours, and only those', () => {
    const warnings = unknownVariableWarnings({
      ENGINE_WORKER: '2',
      DEMOFHIR: 'false',
      FHIR_TIMEOUT: '100',
      CDS_TRUSTED_ISSUER_FILE: 'x',
      DATABASE_PASSWORD: 'x',
      PATH: '/bin',
      HOME: '/root',
      NODE_ENV: 'production',
      TZ: 'UTC',
      ENGINE_WORKERS: '2',
      // Kubernetes service links of a Service named cds-trial-matcher
      CDS_TRIAL_MATCHER_SERVICE_HOST: '10.0.0.1',
      CDS_TRIAL_MATCHER_PORT: 'tcp://10.0.0.1:3000',
      CDS_TRIAL_MATCHER_PORT_3000_TCP_ADDR: '10.0.0.1',
    });
    expect(warnings).toEqual([
      'CDS_TRUSTED_ISSUER_FILE is not a variable this service reads (see README "Configure"); it is ignored',
      'DATABASE_PASSWORD is not a variable this service reads (see README "Configure"); it is ignored',
      'DEMOFHIR is not a variable this service reads: did you mean DEMO_FHIR?',
      'ENGINE_WORKER is not a variable this service reads: did you mean ENGINE_WORKERS?',
      'FHIR_TIMEOUT is not a variable this service reads (see README "Configure"); it is ignored',
    ]);
    expect(loadConfig({ ENGINE_WORKER: '2' }).warnings).toHaveLength(1);
    expect(loadConfig({}).warnings).toEqual([]);
  });

  it('switches CORS off with CORS_ORIGINS=none', () => {
    expect(loadConfig({ CORS_ORIGINS: 'none' }).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'NONE' }).corsOrigins).toEqual([]);
  });

  it('defaults ENGINE_WORKERS to the cores, within a cgroup CPU limit, at most 8', () => {
    expect(cgroupCpuLimit('max 100000')).toBeUndefined();
    expect(cgroupCpuLimit('150000 100000')).toBe(2);
    expect(cgroupCpuLimit('50000 100000')).toBe(1);
    expect(cgroupCpuLimit(undefined)).toBeUndefined();
    expect(cgroupCpuLimit('garbage')).toBeUndefined();
    expect(defaultEngineWorkers(16, '200000 100000')).toBe(2);
    expect(defaultEngineWorkers(4, 'max 100000')).toBe(4);
    expect(defaultEngineWorkers(2, '400000 100000')).toBe(2);
    expect(defaultEngineWorkers(64, undefined)).toBe(MAX_DEFAULT_ENGINE_WORKERS);
    expect(loadConfig({ ENGINE_WORKERS: '3' })).toMatchObject({
      engineWorkers: 3,
      screenWorkers: 3,
    });
    expect(loadConfig({ ENGINE_WORKERS: '3', SCREEN_WORKERS: '0' }).screenWorkers).toBe(0);
  });
});

describe('.env (issue 18)', () => {
  it('is read by a CLI from its working directory, and the environment wins over it', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const cwd = mkdtempSync(join(tmpdir(), 'dotenv-'));
    writeFileSync(join(cwd, '.env'), 'SCREEN_WORKERS=many\nLOG_LEVEL=loud\n');
    const run = promisify(execFile);
    const failure = (env: Record<string, string>) =>
      // tsx by path: the working directory is not the project's.
      run(
        process.execPath,
        [
          '--import',
          pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
          join(root, 'src/cli/screen.ts'),
          'x.json',
        ],
        {
          cwd,
          env: { PATH: process.env.PATH ?? '', ...env },
        },
      ).then(
        () => undefined,
        (error: unknown) => error as { code: number; stderr: string },
      );
    const fromFile = await failure({});
    expect(fromFile?.code).toBe(2);
    expect(fromFile?.stderr).toMatch(
      /^screen: invalid configuration: LOG_LEVEL: .*; SCREEN_WORKERS: /,
    );
    // The environment's valid value wins over the file's: only SCREEN_WORKERS is left to complain of.
    const overridden = await failure({ LOG_LEVEL: 'info' });
    expect(overridden?.stderr).toMatch(/^screen: invalid configuration: SCREEN_WORKERS: /);
    expect(overridden?.stderr).not.toMatch(/LOG_LEVEL/);
  });
});
