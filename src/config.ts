import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SiteCodeMapSchema, type SiteCodeMap } from './cql/value-sets.js';
import { ConfigurationError } from './shared/errors.js';
import { parseOrThrow, readJsonFile } from './shared/json-files.js';
import { readTrustedIssuers, type TrustedIssuer } from './security/trusted-issuers.js';
import { isCallableUrl, normalizeBase } from './security/urls.js';
import { DEFAULT_CARD_TTL_DAYS, DEFAULT_FEEDBACK_DB_PATH } from './feedback/feedback-store.js';

/** Project directories, found relative to this module so that src/ (tsx) and dist/ (node) both work. */
export const DEFAULT_HOOKS_DIR = fileURLToPath(new URL('../hooks', import.meta.url));
export const DEFAULT_DEMO_DIR = fileURLToPath(new URL('../demo', import.meta.url));

const BooleanFlagSchema = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const BodyLimitSchema = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb)$/i, 'a size such as 500kb or 5mb');

/** `500kb`, `5mb`, ... in bytes. */
function sizeInBytes(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)$/i.exec(value.trim()) as RegExpExecArray;
  const unit = (match[2] as string).toLowerCase();
  return Math.floor(Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const NOT_A_DIRECTORY = { message: 'an existing directory' };

/** FHIR base URLs (comma-separated): https, or http on loopback only. */
const FhirBaseListSchema = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
  )
  .pipe(
    z.array(
      z
        .url({ protocol: /^https?$/ })
        .refine(isCallableUrl, { message: 'https (http only on localhost), without credentials' })
        .transform(normalizeBase),
    ),
  );

const OriginListSchema = z
  .string()
  .transform((value) =>
    // `none` switches CORS off: no browser origin is allowed (an EHR calls server to server).
    (value.trim().toLowerCase() === 'none' ? '' : value)
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .pipe(
    z.array(
      z.union([
        z.literal('*'),
        z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u.replace(/\/$/, ''), {
          message: 'an origin has no path (https://host[:port])',
        }),
      ]),
    ),
  );

/**
 * Environment variables, each with its default. Every one is documented in README.md
 * ("Configure") and .env.example.
 */
export const EnvSchema = z.object({
  HOST: z
    .string()
    .refine(isHostName, {
      message:
        'a host name or IP address to listen on, without a scheme or port (0.0.0.0, 127.0.0.1, ::)',
    })
    .default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CORS_ORIGINS: OriginListSchema.default(['https://sandbox.cds-hooks.org']),
  BODY_LIMIT: BodyLimitSchema.default('5mb'),
  FHIR_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5000),
  FHIR_MAX_PAGES: z.coerce.number().int().min(1).max(100).default(10),
  // Default: on only without CDS_TRUSTED_ISSUERS (issue 15): an authenticated deployment must ask.
  DEMO_FHIR: BooleanFlagSchema.optional(),
  DEMO_DIR: z.string().min(1).refine(isDirectory, NOT_A_DIRECTORY).default(DEFAULT_DEMO_DIR),
  HOOKS_DIR: z.string().min(1).refine(isDirectory, NOT_A_DIRECTORY).default(DEFAULT_HOOKS_DIR),
  CQL_DIR: z
    .string()
    .min(1)
    .refine(isDirectory, NOT_A_DIRECTORY)
    .refine(
      (dir) => ['elm', 'trials', 'valuesets.json'].every((name) => existsSync(join(dir, name))),
      {
        message: 'a directory holding elm/, trials/ and valuesets.json (as cql/ of the project)',
      },
    )
    .optional(),
  PUBLIC_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  SITE_CODE_MAP: z.string().min(1).optional(),
  // Security and limits (issue 5)
  CDS_TRUSTED_ISSUERS: z.string().min(1).optional(),
  JWT_CLOCK_SKEW_SEC: z.coerce.number().int().min(0).max(300).default(30),
  JWT_REPLAY_CACHE_SIZE: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
  JWKS_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  FHIR_SERVER_ALLOWLIST: FhirBaseListSchema.optional(),
  FHIR_MAX_BODY: BodyLimitSchema.default('20mb'),
  FHIR_MAX_RESOURCES: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  REQUEST_BUDGET_MS: z.coerce.number().int().min(50).max(120_000).default(1000),
  KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(65_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  // Issue 15: request headers must arrive within this (slow-loris), never above REQUEST_TIMEOUT_MS.
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // Engine worker threads (issue 7): 0 evaluates on the HTTP thread.
  ENGINE_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  // The screen CLI's worker threads (default: as ENGINE_WORKERS); 0 evaluates in-process.
  SCREEN_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  // The screen CLI's bearer token for --fhir-server (a secret: never logged or echoed).
  FHIR_TOKEN: z.string().min(1).optional(),
  // Cards and feedback (issue 4)
  FEEDBACK_DB_PATH: z.string().min(1).default(DEFAULT_FEEDBACK_DB_PATH),
  CARD_LEDGER_TTL_DAYS: z.coerce.number().int().min(1).max(3650).default(DEFAULT_CARD_TTL_DAYS),
  CARD_SMART_LINK_URL: z.url({ protocol: /^https?$/ }).optional(),
  CARD_SMART_LINK_LABEL: z.string().min(1).max(80).optional(),
  SHOW_NOT_RECRUITING: BooleanFlagSchema.default(false),
  // Replicas (issue 17): shared state on PostgreSQL
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' }).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
});

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Allowed browser origins; `*` allows any origin (never with credentials, which are never allowed). */
  readonly corsOrigins: readonly string[];
  readonly bodyLimit: string;
  readonly fhirTimeoutMs: number;
  readonly fhirMaxPages: number;
  readonly demoFhir: boolean;
  readonly demoDir: string;
  readonly hooksDir: string;
  readonly cqlDir?: string;
  /** The service's public URL (behind a proxy); otherwise derived from each request. */
  readonly publicBaseUrl?: string;
  readonly siteCodes: SiteCodeMap;
  // Security and limits (issue 5)
  /** CDS clients allowed to call (CDS_TRUSTED_ISSUERS); empty: no authentication (demo). */
  readonly trustedIssuers: readonly TrustedIssuer[];
  /** Clock skew tolerated on a JWT's exp, nbf and iat. */
  readonly jwtClockSkewSec: number;
  /** jtis remembered against replay, at most. */
  readonly jwtReplayCacheSize: number;
  /** Fetching an issuer's JWK Set. */
  readonly jwksTimeoutMs: number;
  /**
   * FHIR base URLs any caller may name when authentication is off; undefined: only the embedded
   * demo server.
   */
  readonly fhirServerAllowlist?: readonly string[];
  /** Largest answer read from a FHIR server or a JWK Set URL, in bytes. */
  readonly fhirMaxBodyBytes: number;
  /** Resources read per patient (all prefetch keys together). */
  readonly fhirMaxResources: number;
  /** Per hook call: past it the answer is `{"cards": []}`. */
  readonly requestBudgetMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Time for a request's headers to arrive; at most requestTimeoutMs. */
  readonly headersTimeoutMs: number;
  /** Open connections at most; more are closed on arrival. */
  readonly maxConnections: number;
  readonly shutdownTimeoutMs: number;
  /**
   * Worker threads evaluating CQL (default: defaultEngineWorkers: the cores this process may use,
   * at most MAX_DEFAULT_ENGINE_WORKERS); 0 = on the HTTP thread.
   */
  readonly engineWorkers: number;
  /** The screen CLI's worker threads (SCREEN_WORKERS, default engineWorkers); 0 = in-process. */
  readonly screenWorkers: number;
  /** The screen CLI's FHIR bearer token (FHIR_TOKEN). */
  readonly fhirToken?: string;
  /**
   * Variables that look like this service's but are not (a misspelling, a removed name): one
   * line each, for a warning at start-up.
   */
  readonly warnings: readonly string[];
  // Cards and feedback (issue 4)
  /** The SQLite file holding feedback and the card ledger (`:memory:` keeps nothing). */
  readonly feedbackDbPath: string;
  /** How long a card uuid is remembered for feedback. */
  readonly cardLedgerTtlDays: number;
  /** A SMART app link added to every card. */
  readonly cardSmartLink?: { readonly url: string; readonly label?: string };
  /** Also show trials whose registry status is not RECRUITING. */
  readonly showNotRecruiting: boolean;
  // Replicas (issue 17)
  /**
   * PostgreSQL holding feedback, the card ledger and the JWT replay cache, shared by replicas;
   * unset: SQLite (feedbackDbPath) and an in-memory replay cache.
   */
  readonly databaseUrl?: string;
  /** Connections per process to DATABASE_URL. */
  readonly databasePoolSize: number;
}

/** A host name (RFC 1123 labels) or an IP address: what `server.listen(port, host)` takes. */
function isHostName(value: string): boolean {
  if (isIP(value) !== 0) return true;
  return (
    value.length <= 253 &&
    value.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
  );
}

/** Engine workers by default at most: each holds its own engine (about 50-70 MB). */
export const MAX_DEFAULT_ENGINE_WORKERS = 8;

/**
 * The CPUs a cgroup v2 limit allows (`/sys/fs/cgroup/cpu.max`: `<quota> <period>`, or `max`),
 * rounded up; undefined without a limit or when the file cannot be read.
 * @param cpuMax - the file's text.
 */
export function cgroupCpuLimit(cpuMax: string | undefined): number | undefined {
  if (cpuMax === undefined) return undefined;
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

function readCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * ENGINE_WORKERS when unset: the cores this process may use (`os.availableParallelism()`, which
 * follows CPU affinity), no more than a container's cgroup CPU limit, at most
 * MAX_DEFAULT_ENGINE_WORKERS.
 * @param parallelism - os.availableParallelism().
 * @param cpuMax - the text of /sys/fs/cgroup/cpu.max, if readable.
 */
export function defaultEngineWorkers(
  parallelism: number = availableParallelism(),
  cpuMax: string | undefined = readCpuMax(),
): number {
  const limit = cgroupCpuLimit(cpuMax) ?? parallelism;
  return Math.max(1, Math.min(parallelism, limit, MAX_DEFAULT_ENGINE_WORKERS));
}

/** Prefixes this service's variables use; an unknown variable with one is probably meant for it. */
const OUR_PREFIXES = [
  'CDS_',
  'CQL_',
  'DEMO_',
  'HOOKS_',
  'SITE_',
  'FHIR_',
  'JWT_',
  'JWKS_',
  'ENGINE_',
  'SCREEN_',
  'FEEDBACK_',
  'CARD_',
  'CORS_',
  'DATABASE_',
  'REQUEST_',
  'SHUTDOWN_',
  'KEEP_ALIVE_',
  'HEADERS_',
];

/** `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_3000_TCP_ADDR`...: set by Kubernetes, not by a person. */
const KUBERNETES_SERVICE_LINK =
  /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_\w+)?)?)$/;

/**
 * The edit distance (insertions, deletions, substitutions) from `a` to `b` when it is at most
 * `limit`, else undefined: the near-miss test, run for every variable of the environment against
 * every name of ours at each start and CLI run, so pairs whose lengths differ by more than the
 * limit are not compared, and a comparison stops at the first row past the limit.
 */
function withinEdits(a: string, b: string, limit: number): number | undefined {
  if (Math.abs(a.length - b.length) > limit) return undefined;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    // Every path to the end goes through this row: past the limit here, past it at the end.
    if (Math.min(...current) > limit) return undefined;
    previous = current;
  }
  const distance = previous[b.length] as number;
  return distance <= limit ? distance : undefined;
}

/**
 * Warnings about variables that look like ours but are not read: they share one of our
 * prefixes, or are within two edits of one of our names (`ENGINE_WORKER`, `DEMOFHIR`).
 * @param env - the environment.
 */
export function unknownVariableWarnings(
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const known = Object.keys(EnvSchema.shape);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.includes(name)) continue;
    // Kubernetes' service links (a Service named cds-trial-matcher gives CDS_TRIAL_MATCHER_PORT...).
    if (KUBERNETES_SERVICE_LINK.test(name)) continue;
    const upper = name.toUpperCase();
    const near = known
      .map((k) => ({ k, d: withinEdits(upper, k, k.length >= 8 ? 2 : 1) }))
      .filter((c): c is { k: string; d: number } => c.d !== undefined)
      .sort((a, b) => a.d - b.d)[0];
    if (near !== undefined)
      warnings.push(`${name} is not a variable this service reads: did you mean ${near.k}?`);
    else if (OUR_PREFIXES.some((prefix) => name.startsWith(prefix)))
      warnings.push(
        `${name} is not a variable this service reads (see README "Configure"); it is ignored`,
      );
  }
  return warnings;
}

/**
 * One line per invalid variable, naming it; the value is never echoed (it may be a secret).
 * @param error - zod's error.
 */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const name = String(issue.path[0] ?? 'configuration');
      return `${name}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Reads `.env` from the working directory into process.env, when there is one: variables already
 * set in the environment win (as with `node --env-file`). Called by main and every CLI.
 * @param path - the file (default `.env`).
 */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

/**
 * A configuration error on one line (file validation errors span several).
 * @param error - a ConfigurationError.
 */
export function configErrorLine(error: Error): string {
  return error.message.replace(/\s*\n\s*/g, ' ');
}

/**
 * loadConfig for a CLI: the same variables as the service, with the same meaning. Problems go to
 * `err` as `<command>: ...` lines; warnings too.
 * @param command - the CLI's name, prefixing its lines.
 * @param env - the environment.
 * @param err - the error stream.
 * @returns the configuration, or undefined after an error line (the CLI then exits 2).
 */
export function loadCliConfig(
  command: string,
  env: Readonly<Record<string, string | undefined>>,
  err: (text: string) => void,
): Config | undefined {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    err(`${command}: ${configErrorLine(error)}\n`);
    return undefined;
  }
  for (const warning of config.warnings) err(`${command}: warning: ${warning}\n`);
  return config;
}

function readSiteCodeMap(path: string): SiteCodeMap {
  return parseOrThrow(
    SiteCodeMapSchema,
    readJsonFile(path, 'SITE_CODE_MAP'),
    `SITE_CODE_MAP ${path}`,
  );
}

/**
 * Parses the environment once, at start-up.
 * @param env - the variables (process.env in main; a plain object in tests).
 * @throws ConfigurationError naming every invalid variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // An empty variable means "not set", as in most .env tooling.
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in EnvSchema.shape && value !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success)
    throw new ConfigurationError(`invalid configuration: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  // Issue 15: without PUBLIC_BASE_URL the JWT audience would follow the Host header, so a token
  // issued for another service would be accepted when sent with that Host.
  if (e.CDS_TRUSTED_ISSUERS !== undefined && e.PUBLIC_BASE_URL === undefined)
    throw new ConfigurationError(
      'invalid configuration: PUBLIC_BASE_URL is required when CDS_TRUSTED_ISSUERS is set ' +
        '(the URL clients call, which their JWT aud must name)',
    );
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS)
    throw new ConfigurationError(
      'invalid configuration: HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS',
    );
  const engineWorkers = e.ENGINE_WORKERS ?? defaultEngineWorkers();
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    corsOrigins: Object.freeze([...e.CORS_ORIGINS]),
    bodyLimit: e.BODY_LIMIT,
    fhirTimeoutMs: e.FHIR_TIMEOUT_MS,
    fhirMaxPages: e.FHIR_MAX_PAGES,
    demoFhir: e.DEMO_FHIR ?? e.CDS_TRUSTED_ISSUERS === undefined,
    demoDir: e.DEMO_DIR,
    hooksDir: e.HOOKS_DIR,
    ...(e.CQL_DIR !== undefined ? { cqlDir: e.CQL_DIR } : {}),
    ...(e.PUBLIC_BASE_URL !== undefined ? { publicBaseUrl: e.PUBLIC_BASE_URL } : {}),
    siteCodes: e.SITE_CODE_MAP === undefined ? [] : readSiteCodeMap(e.SITE_CODE_MAP),
    // Security and limits (issue 5)
    trustedIssuers: Object.freeze(
      e.CDS_TRUSTED_ISSUERS === undefined ? [] : readTrustedIssuers(e.CDS_TRUSTED_ISSUERS),
    ),
    jwtClockSkewSec: e.JWT_CLOCK_SKEW_SEC,
    jwtReplayCacheSize: e.JWT_REPLAY_CACHE_SIZE,
    jwksTimeoutMs: e.JWKS_TIMEOUT_MS,
    ...(e.FHIR_SERVER_ALLOWLIST !== undefined
      ? { fhirServerAllowlist: Object.freeze([...e.FHIR_SERVER_ALLOWLIST]) }
      : {}),
    fhirMaxBodyBytes: sizeInBytes(e.FHIR_MAX_BODY),
    fhirMaxResources: e.FHIR_MAX_RESOURCES,
    requestBudgetMs: e.REQUEST_BUDGET_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    engineWorkers,
    screenWorkers: e.SCREEN_WORKERS ?? engineWorkers,
    ...(e.FHIR_TOKEN !== undefined ? { fhirToken: e.FHIR_TOKEN } : {}),
    warnings: Object.freeze(unknownVariableWarnings(env)),
    // Cards and feedback (issue 4)
    feedbackDbPath: e.FEEDBACK_DB_PATH,
    cardLedgerTtlDays: e.CARD_LEDGER_TTL_DAYS,
    ...(e.CARD_SMART_LINK_URL !== undefined
      ? {
          cardSmartLink: {
            url: e.CARD_SMART_LINK_URL,
            ...(e.CARD_SMART_LINK_LABEL !== undefined ? { label: e.CARD_SMART_LINK_LABEL } : {}),
          },
        }
      : {}),
    showNotRecruiting: e.SHOW_NOT_RECRUITING,
    ...(e.DATABASE_URL !== undefined ? { databaseUrl: e.DATABASE_URL } : {}),
    databasePoolSize: e.DATABASE_POOL_SIZE,
  });
}
