/**
 * A loopback FHIR server that behaves like the ones EHRs run (shared/reference/real-records.md),
 * not like our fixtures: oldest first unless `_sort=-date`, 20 entries a page unless `_count`,
 * HAPI `_getpages` next links on the base URL or Oracle Health `-pageContext` links, no `total`,
 * `search.mode` match / include / outcome, `_include=X:medication`, an Observation search that
 * (as Epic) needs `code` or `category`, and searchsets that may carry OperationOutcome entries.
 * Searches: `patient`, `code` (`system|code` tokens, comma = or), `category`, `date` (ge/le),
 * `_sort`, `_count`, `_include`; reads: `Type/id`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, startFakeFhirServer, type FakeFhirServer } from './fake-fhir-server.js';

type Json = Record<string, unknown>;

export interface RealisticServerOptions {
  /** How next links look. */
  readonly paging?: 'hapi' | 'oracle';
  /** Entries per page when the query has no `_count` (and at most, whatever `_count` asks). */
  readonly pageSize?: number;
  readonly maxPageSize?: number;
  /** OperationOutcome entries added to every search of a type (`search.mode = outcome`). */
  readonly outcomes?: Readonly<Record<string, Json>>;
  /** Resource types the server does not support (a search answers 404, as for MedicationStatement on Epic). */
  readonly unsupported?: readonly string[];
  /** Refuses `_sort` with HTTP 400 (a server without sorting). */
  readonly refusesSort?: boolean;
  /** The base the server names itself by in fullUrls (behind a proxy): default, its own. */
  readonly publicBase?: string;
}

export interface RealisticFhirServer extends FakeFhirServer {
  /** Replaces what the server holds. */
  load(resources: readonly Json[]): void;
}

const DATE_PATHS = [
  'effectiveDateTime',
  'effectivePeriod.start',
  'issued',
  'authoredOn',
  'dateAsserted',
  'effectivePeriod.end',
  'whenHandedOver',
  'performedDateTime',
  'performedPeriod.start',
  'onsetDateTime',
  'recordedDate',
];

function dateOf(resource: Json): string {
  for (const path of DATE_PATHS) {
    let value: unknown = resource;
    for (const part of path.split('.')) value = (value as Json | undefined)?.[part];
    if (typeof value === 'string') return value;
  }
  return '';
}

function codings(value: unknown): { system?: string; code?: string }[] {
  if (Array.isArray(value)) return value.flatMap(codings);
  const coding = (value as { coding?: unknown } | undefined)?.coding;
  return Array.isArray(coding) ? (coding as { system?: string; code?: string }[]) : [];
}

/** Whether a token search (`system|code,code2`) matches a CodeableConcept (or a list of them). */
function matchesToken(concept: unknown, tokens: string): boolean {
  const wanted = tokens.split(',');
  return codings(concept).some((c) =>
    wanted.some((token) => {
      const bar = token.indexOf('|');
      if (bar < 0) return c.code === token;
      const system = token.slice(0, bar);
      return c.code === token.slice(bar + 1) && (system === '' || c.system === system);
    }),
  );
}

function subjectId(resource: Json): string | undefined {
  const ref = ((resource.subject ?? resource.patient) as { reference?: string } | undefined)
    ?.reference;
  return ref?.split('/').pop();
}

export async function startRealisticFhirServer(
  options: RealisticServerOptions = {},
): Promise<RealisticFhirServer> {
  let resources: Json[] = [];
  /** Search results kept for their next links (as HAPI keeps a search for `_getpages`). */
  const searches = new Map<string, { entries: Json[]; pageSize: number; type: string }>();
  const pageSize = options.pageSize ?? 20;
  const maxPageSize = options.maxPageSize ?? 100;

  const page = (id: string, offset: number, base: string, query: string): Json => {
    const search = searches.get(id);
    if (search === undefined) return { resourceType: 'OperationOutcome', issue: [] };
    const entries = search.entries.slice(offset, offset + search.pageSize);
    const more = offset + search.pageSize < search.entries.length;
    const next =
      options.paging === 'oracle'
        ? `${base}/${search.type}?${query}&-pageContext=${id}.${offset + search.pageSize}`
        : `${base}?_getpages=${id}&_getpagesoffset=${offset + search.pageSize}&_count=${search.pageSize}&_bundletype=searchset`;
    return {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'searchset',
      link: [
        { relation: 'self', url: `${base}/${search.type}?${query}` },
        ...(more ? [{ relation: 'next', url: next }] : []),
      ],
      entry: entries,
    };
  };

  const handler = (req: IncomingMessage, res: ServerResponse, base: string): void => {
    const url = new URL(req.url ?? '', 'http://x');
    const path = url.pathname.replace(/^\/fhir\/?/, '');
    const q = url.searchParams;
    const getpages = q.get('_getpages');
    if (path === '' && getpages !== null) {
      sendJson(res, 200, page(getpages, Number(q.get('_getpagesoffset') ?? '0'), base, ''));
      return;
    }
    const context = q.get('-pageContext');
    if (context !== null) {
      const [id = '', offset = '0'] = context.split('.');
      const rest = new URLSearchParams(q);
      rest.delete('-pageContext');
      sendJson(res, 200, page(id, Number(offset), base, rest.toString()));
      return;
    }
    const segments = path.split('/');
    const type = segments[0] ?? '';
    if (options.unsupported?.includes(type)) {
      sendJson(res, 404, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-supported' }],
      });
      return;
    }
    if (segments.length === 2) {
      const found = resources.find((r) => r.resourceType === type && r.id === segments[1]);
      if (found === undefined)
        sendJson(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
      else sendJson(res, 200, found);
      return;
    }
    if (options.refusesSort === true && q.has('_sort')) {
      sendJson(res, 400, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-supported', diagnostics: '_sort' }],
      });
      return;
    }
    if (type === 'Observation' && !q.has('code') && !q.has('category')) {
      sendJson(res, 400, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'required', diagnostics: 'code or category required' }],
      });
      return;
    }
    const patient = q.get('patient');
    let matches = resources.filter(
      (r) => r.resourceType === type && (patient === null || subjectId(r) === patient),
    );
    const code = q.get('code');
    if (code !== null) matches = matches.filter((r) => matchesToken(r.code, code));
    const category = q.get('category');
    if (category !== null) matches = matches.filter((r) => matchesToken(r.category, category));
    for (const date of q.getAll('date')) {
      const prefix = date.slice(0, 2);
      const value = date.slice(2);
      if (prefix === 'ge') matches = matches.filter((r) => dateOf(r) >= value);
      if (prefix === 'le')
        matches = matches.filter((r) => dateOf(r).slice(0, value.length) <= value);
    }
    // No default order: oldest first, as a server scanning its store would answer.
    matches.sort((a, b) => dateOf(a).localeCompare(dateOf(b)));
    if (q.get('_sort') === '-date') matches.reverse();
    const named = options.publicBase ?? base;
    const entries: Json[] = matches.map((resource) => ({
      fullUrl: `${named}/${type}/${String(resource.id)}`,
      resource,
      search: { mode: 'match' },
    }));
    const include = q.get('_include');
    if (include?.endsWith(':medication') === true) {
      const wanted = new Set(
        matches
          .map((r) => (r.medicationReference as { reference?: string } | undefined)?.reference)
          .filter((ref): ref is string => ref !== undefined && !ref.startsWith('#'))
          .map((ref) => ref.replace(`${named}/`, '')),
      );
      for (const medication of resources.filter(
        (r) => r.resourceType === 'Medication' && wanted.has(`Medication/${String(r.id)}`),
      ))
        entries.push({
          fullUrl: `${named}/Medication/${String(medication.id)}`,
          resource: medication,
          search: { mode: 'include' },
        });
    }
    const outcome = options.outcomes?.[type];
    if (outcome !== undefined) entries.push({ resource: outcome, search: { mode: 'outcome' } });
    const id = randomUUID();
    const count = Math.min(Number(q.get('_count') ?? pageSize), maxPageSize);
    searches.set(id, { entries, pageSize: count, type });
    const query = new URLSearchParams(q);
    sendJson(res, 200, page(id, 0, base, query.toString()));
  };

  const server = await startFakeFhirServer(handler);
  return Object.assign(server, {
    load(next: readonly Json[]) {
      resources = [...next];
      searches.clear();
    },
  });
}
