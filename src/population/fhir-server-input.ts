/**
 * Patients read from a FHIR server with fhir-kit-client: the members of a Group, or the result of
 * a Patient search read page by page (patients are screened while later pages are still unread).
 * Each patient's record is four searches (Condition, Observation, MedicationRequest with its
 * Medications included, MedicationStatement), every page followed (same origin only). A server error
 * fails that patient only; an error on a page of the Patient search ends the search with a failure
 * (what was read is still screened).
 */
import { Client } from 'fhir-kit-client';
import type { PopulationItem } from './population-item.js';
import { patientIdOf } from './ndjson-export.js';
import { isRequestUnderBase } from '../security/urls.js';
import { quoteUntrusted } from '../shared/untrusted-text.js';

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
  /** Pages read per search at most. */
  readonly maxPages?: number;
}

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
  /** Pages of a search, as they come. */
  async function* pages(query: string, signal?: AbortSignal): AsyncGenerator<Json> {
    let url = query;
    for (let page = 1; ; page++) {
      if (page > maxPages)
        throw new FhirReadError(
          `the search has more than ${maxPages} pages; the rest was not read`,
        );
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
  const searchAll = async (query: string, signal: AbortSignal): Promise<Json[]> => {
    const found: Json[] = [];
    for await (const bundle of pages(query, signal)) found.push(...entryResources(bundle));
    return found;
  };
  const record = (id: string, patient: Json | undefined): PopulationItem => ({
    kind: 'record',
    source: `${baseUrl}/Patient/${id}`,
    load: async (signal) => {
      const enc = encodeURIComponent(id);
      const [self, conditions, observations, requests, statements, ...others] = await Promise.all([
        patient ?? get(`Patient/${enc}`, signal),
        searchAll(`Condition?patient=${enc}`, signal),
        searchAll(`Observation?patient=${enc}`, signal),
        searchAll(`MedicationRequest?patient=${enc}&_include=MedicationRequest:medication`, signal),
        // Many EHRs have no MedicationStatement in R4: its absence leaves criteria unknown.
        searchAll(`MedicationStatement?patient=${enc}`, signal).catch(() => []),
        // Administrations (inpatient infusions), dispenses, intolerances and transfusions: read
        // where the server has them; their absence leaves those readings as without them.
        ...[
          'MedicationAdministration',
          'MedicationDispense',
          'AllergyIntolerance',
          'Procedure',
        ].map((type) => searchAll(`${type}?patient=${enc}`, signal).catch(() => [])),
      ]);
      const seen = new Set<string>();
      const resources = [
        self,
        ...conditions,
        ...observations,
        ...requests,
        ...statements,
        ...others.flat(),
      ].filter((r) => {
        const key = `${String(r.resourceType)}/${String(r.id)}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      return {
        resourceType: 'Bundle',
        type: 'collection',
        entry: resources.map((resource) => ({ resource })),
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
