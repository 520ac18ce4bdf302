/**
 * Patients read from a FHIR server with fhir-kit-client: the members of a Group, or the result of
 * a Patient search read page by page (patients are screened while later pages are still unread).
 * Each patient's record is read with the service's fetch plan (fetch-plan.ts, derived from the
 * ELM): one search per type the CQL retrieves, Observations by code, medications with their
 * Medications included (a referenced one not included is read by id), every page followed (same
 * origin only). A search cut at the page limit, or whose searchset says (an OperationOutcome of
 * severity warning or error) that data was withheld, marks its type partial in the record: the
 * criteria that read it are unknown (issue 12). A server error on a required search fails that
 * patient only; an optional type the server lacks is read as none. An error on a page of the
 * Patient search ends the search with a failure (what was read is still screened).
 */
import { Client } from 'fhir-kit-client';
import type { PopulationItem } from './population-item.js';
import { patientIdOf } from './ndjson-export.js';
import { isRequestUnderBase } from '../security/urls.js';
import { quoteUntrusted } from '../shared/untrusted-text.js';
import type { FetchKey } from '../cql/fetch-plan.js';
import { outcomePartialReason, truncationOutcome } from '../fhir/partial-record.js';

export interface FhirServerInputOptions {
  readonly baseUrl: string;
  /** Bearer token (from FHIR_TOKEN), never logged or shown. */
  readonly token?: string;
  /** Screen this Group's members ... */
  readonly groupId?: string;
  /** ... or the Patients this search finds (`gender=female&birthdate=ge1960`); default: all. */
  readonly patientQuery?: string;
  /** Per HTTP request. */
  readonly timeoutMs?: number;
  /** Pages read per search at most: past it the search is cut and its type partial. */
  readonly maxPages?: number;
  /** What to search for each patient (the service's fetch plan; loadFetchPlan()). */
  readonly plan: readonly FetchKey[];
}

/** Referenced Medications read by id per patient, at most. */
const MAX_MEDICATION_READS = 50;

type Json = Record<string, unknown>;

class FhirReadError extends Error {}

function describe(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'did not answer in time';
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  if (typeof status === 'number')
    return status >= 200 && status < 300 ? 'answered invalid JSON' : `answered HTTP ${status}`;
  return 'could not be reached';
}

function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nextLink(bundle: Json): string | undefined {
  const links = Array.isArray(bundle.link)
    ? (bundle.link as { relation?: unknown; url?: unknown }[])
    : [];
  const url = links.find((l) => l.relation === 'next')?.url;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

/** Each entry's fullUrl, by resource: absolute references to it resolve in the record. */
function rememberFullUrls(bundle: Json, into: WeakMap<Json, string>): void {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  for (const entry of entries)
    if (isJsonObject(entry) && isJsonObject(entry.resource) && typeof entry.fullUrl === 'string')
      into.set(entry.resource, entry.fullUrl);
}

function entryResources(bundle: Json): Json[] {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  return entries
    .map((e) => (isJsonObject(e) ? e.resource : undefined))
    .filter((r): r is Json => isJsonObject(r) && typeof r.resourceType === 'string');
}

/**
 * The patients a FHIR server holds for a Group or a Patient search.
 * @param options - server, token, Group or search, limits.
 */
export async function* fhirServerItems(
  options: FhirServerInputOptions,
): AsyncGenerator<PopulationItem> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const origin = new URL(baseUrl).origin;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxPages = options.maxPages ?? 100;
  const client = new Client({
    baseUrl,
    ...(options.token !== undefined && options.token !== '' ? { bearerToken: options.token } : {}),
  });

  const get = async (url: string, signal?: AbortSignal): Promise<Json> => {
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal !== undefined ? [signal] : [])];
    // Every read, search and next page stays under the base (issue 15 item 13).
    if (!isRequestUnderBase(client.httpClient.expandUrl(url), baseUrl))
      throw new FhirReadError('the request would leave the FHIR server base');
    let result: unknown;
    try {
      result = await client.request(url, { options: { signal: AbortSignal.any(signals) } });
    } catch (error) {
      throw new FhirReadError(`the FHIR server ${describe(error)}`, { cause: error });
    }
    if (!isJsonObject(result) || typeof result.resourceType !== 'string')
      throw new FhirReadError('the FHIR server answered something that is not a FHIR resource');
    return result;
  };
  /** Pages of a search, as they come; `onCut` is told when pages are left unread. */
  async function* pages(
    query: string,
    signal?: AbortSignal,
    onCut?: () => void,
  ): AsyncGenerator<Json> {
    let url = query;
    for (let page = 1; ; page++) {
      if (page > maxPages) {
        if (onCut === undefined)
          throw new FhirReadError(
            `the search has more than ${maxPages} pages; the rest was not read`,
          );
        onCut();
        return;
      }
      const bundle = await get(url, signal);
      if (bundle.resourceType !== 'Bundle')
        throw new FhirReadError(
          `the FHIR server answered a ${quoteUntrusted(bundle.resourceType)} to a search`,
        );
      yield bundle;
      const link = nextLink(bundle);
      if (link === undefined) break;
      const next = new URL(link, `${baseUrl}/`);
      if (next.origin !== origin)
        throw new FhirReadError('the FHIR server answered a next link to another origin');
      url = next.href;
    }
  }
  /**
   * Every resource of a patient's search. A cut search, or one whose searchset says data was
   * withheld, ends with an OperationOutcome naming the type: the record builder marks the type
   * partial (patient-bundle.ts).
   */
  const fullUrls = new WeakMap<Json, string>();
  const searchAll = async (query: string, type: string, signal: AbortSignal): Promise<Json[]> => {
    const found: Json[] = [];
    // Set from the paging callbacks below.
    const state = { cut: false, withheld: false };
    const read = async (q: string): Promise<void> => {
      for await (const bundle of pages(q, signal, () => (state.cut = true))) {
        rememberFullUrls(bundle, fullUrls);
        for (const resource of entryResources(bundle)) {
          if (resource.resourceType !== 'OperationOutcome') found.push(resource);
          else if (outcomePartialReason(resource as never) !== undefined) state.withheld = true;
        }
      }
    };
    try {
      await read(query);
    } catch (error) {
      // `_sort`, `_count`, `_include` refused (HTTP 400): asked again without them.
      const plain = query.replace(/&_(sort|count|include)=[^&]*/g, '');
      const status = ((error as Error).cause as { response?: { status?: unknown } } | undefined)
        ?.response?.status;
      if (plain === query || status !== 400) throw error;
      found.length = 0;
      await read(plain);
    }
    if (state.cut) found.push(truncationOutcome(`${maxPages} pages`, type));
    else if (state.withheld)
      found.push({
        resourceType: 'OperationOutcome',
        issue: [
          { severity: 'warning', code: 'suppressed', diagnostics: `${type} withheld in part` },
        ],
      });
    return found;
  };
  const record = (id: string, patient: Json | undefined): PopulationItem => ({
    kind: 'record',
    source: `${baseUrl}/Patient/${id}`,
    load: async (signal) => {
      const enc = encodeURIComponent(id);
      const searches = options.plan.filter((key) => key.type !== 'Patient');
      const [self, ...found] = await Promise.all([
        patient ?? get(`Patient/${enc}`, signal),
        ...searches.map((key) => {
          const search = searchAll(
            key.template.replace(/\{\{context\.patientId\}\}/g, enc),
            key.type,
            signal,
          );
          // A type the server may not have (MedicationStatement on Epic): read as none.
          return key.optional ? search.catch(() => []) : search;
        }),
      ]);
      const seen = new Set<string>();
      const resources = [self, ...found.flat()].filter((r) => {
        if (r.resourceType === 'OperationOutcome') return true;
        const key = `${String(r.resourceType)}/${String(r.id)}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      // Medications referenced but not included: read by id (an unreadable one stays unresolved).
      const missing = [
        ...new Set(
          resources
            .map((r) => (r.medicationReference as { reference?: unknown } | undefined)?.reference)
            .filter(
              (ref): ref is string =>
                typeof ref === 'string' &&
                /^Medication\/[A-Za-z0-9\-.]{1,64}$/.test(ref) &&
                !seen.has(ref),
            ),
        ),
      ].slice(0, MAX_MEDICATION_READS);
      for (const ref of missing) {
        const medication = await get(ref, signal).catch(() => undefined);
        if (medication?.resourceType === 'Medication') resources.push(medication);
      }
      return {
        resourceType: 'Bundle',
        type: 'collection',
        entry: resources.map((resource) => {
          const fullUrl = fullUrls.get(resource);
          return fullUrl === undefined ? { resource } : { fullUrl, resource };
        }),
      };
    },
  });

  if (options.groupId !== undefined) {
    const source = `${baseUrl}/Group/${options.groupId}`;
    let group: Json;
    try {
      group = await get(`Group/${encodeURIComponent(options.groupId)}`);
      if (group.resourceType !== 'Group')
        throw new FhirReadError(
          `the FHIR server answered a ${quoteUntrusted(group.resourceType)} for a Group`,
        );
    } catch (error) {
      yield { kind: 'failure', source, message: (error as Error).message };
      return;
    }
    const members = Array.isArray(group.member) ? (group.member as Json[]) : [];
    const ids = members
      .filter((m) => m.inactive !== true)
      .map((m) => patientIdOf(isJsonObject(m.entity) ? m.entity.reference : undefined));
    yield { kind: 'expect', count: ids.length };
    for (const [index, id] of ids.entries()) {
      if (id === undefined)
        yield {
          kind: 'failure',
          source: `${source}#member[${index}]`,
          message: 'the member is not a Patient reference',
        };
      else yield record(id, undefined);
    }
    return;
  }

  const query = (options.patientQuery ?? '').replace(/^\/?Patient\??/, '');
  const search = `Patient${query === '' ? '' : `?${query}`}`;
  let page = 0;
  try {
    for await (const bundle of pages(search)) {
      page++;
      if (page === 1 && typeof bundle.total === 'number')
        yield { kind: 'expect', count: bundle.total };
      for (const patient of entryResources(bundle)) {
        if (patient.resourceType !== 'Patient' || typeof patient.id !== 'string') continue;
        if (typeof bundle.total !== 'number') yield { kind: 'expect', count: 1 };
        yield record(patient.id, patient);
      }
    }
  } catch (error) {
    yield {
      kind: 'failure',
      source: `${baseUrl}/${search} (page ${page + 1})`,
      message: `${(error as Error).message}; the rest of the Patient search was not read`,
    };
  }
}
