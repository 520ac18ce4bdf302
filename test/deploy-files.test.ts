/**
 * Issue 18: what can be checked of the deployment files without a Docker engine. Every variable
 * the Dockerfile and docker-compose.yml set for the service is one loadConfig reads; .env.example
 * and README "Configure" list every variable loadConfig reads; the image is on a supported Node LTS
 * with the demo off, and ships what the service and its CLIs read at run time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvSchema, loadConfig } from '../src/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const OURS = new Set(Object.keys(EnvSchema.shape));
/** Variables the image sets that are Node's, not the service's. */
const NODE_VARIABLES = new Set(['NODE_ENV']);

/** `ENV A=1 B=2` lines of a Dockerfile stage. */
function dockerEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^ENV\s+(.*)$/.exec(line.trim());
    if (match === null) continue;
    for (const pair of (match[1] ?? '').matchAll(/(\w+)=(\S+)/g))
      env.set(pair[1] as string, pair[2] as string);
  }
  return env;
}

/**
 * The `environment:` maps of docker-compose.yml, by the service (or anchor) they belong to: a
 * block of `KEY: value` lines indented under `environment:`.
 */
function composeEnvironments(text: string): Map<string, Map<string, string>> {
  const result = new Map<string, Map<string, string>>();
  const lines = text.split('\n');
  let owner = '';
  let inServices = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\S/.test(line)) {
      inServices = line.startsWith('services:');
      const anchor = /^(x-[\w-]+):/.exec(line);
      if (anchor !== null) owner = anchor[1] as string;
    } else if (inServices) {
      const service = /^ {2}([\w-]+):\s*$/.exec(line);
      if (service !== null) owner = service[1] as string;
    }
    const env = /^(\s*)environment:\s*$/.exec(line);
    if (env === null) continue;
    const indent = (env[1] ?? '').length;
    const vars = new Map<string, string>();
    for (let j = i + 1; j < lines.length; j++) {
      const entry = /^(\s*)(\w+):\s*(.*)$/.exec(lines[j] as string);
      if (entry === null || (entry[1] ?? '').length <= indent) break;
      vars.set(entry[2] as string, (entry[3] ?? '').replace(/^'(.*)'$/, '$1'));
    }
    result.set(owner, vars);
  }
  return result;
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds on a supported Node LTS (22 or later), never an end-of-life one', () => {
    const bases = [...dockerfile.matchAll(/^FROM\s+node:(\d+)/gm)].map((m) => Number(m[1]));
    expect(bases.length).toBeGreaterThan(0);
    for (const major of bases) expect(major).toBeGreaterThanOrEqual(22);
  });

  it('sets only variables loadConfig reads, with the demo FHIR server off', () => {
    const env = dockerEnv(dockerfile);
    for (const name of env.keys()) {
      if (NODE_VARIABLES.has(name)) continue;
      expect(OURS).toContain(name);
    }
    expect(env.get('DEMO_FHIR')).toBe('false');
    const config = loadConfig(Object.fromEntries(env));
    expect(config.demoFhir).toBe(false);
    expect(config.host).toBe('0.0.0.0');
  });

  it('ships what the service and the CLIs read at run time, and runs them with plain node', () => {
    for (const path of ['cql/elm', 'cql/trials', 'cql/valuesets.json', 'hooks', 'demo'])
      expect(dockerfile).toMatch(new RegExp(`^COPY .*${path.replace('.', '\\.')}`, 'm'));
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    // The CLIs are compiled into dist/ (tsconfig.build.json includes src/cli).
    for (const cli of ['screen', 'feedback-report', 'refresh-trials'])
      expect(existsSync(join(ROOT, 'src/cli', `${cli}.ts`))).toBe(true);
    expect(dockerfile).not.toMatch(/tsx/);
  });
});

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');
  const environments = composeEnvironments(compose);

  it('gives the service only variables loadConfig reads, a production-like set', () => {
    const service = environments.get('x-replica');
    expect(service).toBeDefined();
    for (const name of service?.keys() ?? []) expect(OURS).toContain(name);
    expect(service?.get('DEMO_FHIR')).toBe('false');
    expect(service?.get('DATABASE_URL')).toMatch(/^postgres:\/\//);
    expect(service?.get('CDS_TRUSTED_ISSUERS')).toBeDefined();
    expect(service?.get('PUBLIC_BASE_URL')).toMatch(/^https:\/\//);
  });

  it('puts PostgreSQL and a TLS reverse proxy (Caddy) beside the replicas', () => {
    expect(compose).toMatch(/image: postgres:/);
    expect(compose).toMatch(/image: caddy:/);
    expect(compose).toMatch(/\.\/deploy\/Caddyfile:\/etc\/caddy\/Caddyfile/);
    const caddyfile = read('deploy/Caddyfile');
    expect(caddyfile).toMatch(/health_uri \/readyz/);
    expect(caddyfile).toMatch(/@internal path \/metrics/);
    // The replicas are reached on the internal network only: no published port of their own.
    expect(compose).not.toMatch(/['"]?\d+:3000['"]?/);
  });

  it('mounts a trusted issuers example that loadConfig accepts', () => {
    expect(() =>
      loadConfig({
        CDS_TRUSTED_ISSUERS: join(ROOT, 'deploy/trusted-issuers.example.json'),
        PUBLIC_BASE_URL: 'https://cds.localhost',
      }),
    ).not.toThrow();
  });
});

describe('.env.example and README "Configure"', () => {
  it('.env.example lists every variable loadConfig reads, and no other', () => {
    const listed = new Set(
      [...read('.env.example').matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1] as string),
    );
    expect([...OURS].filter((name) => !listed.has(name))).toEqual([]);
    expect([...listed].filter((name) => !OURS.has(name))).toEqual([]);
  });

  it('README documents every variable loadConfig reads in a table row', () => {
    const readme = read('README.md');
    const missing = [...OURS].filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });

  it('the uncommented values of .env.example are valid and are the defaults', () => {
    const values: Record<string, string> = Object.fromEntries(
      [...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [
        m[1] as string,
        m[2] as string,
      ]),
    );
    expect(loadConfig(values)).toEqual(loadConfig({}));
  });
});
