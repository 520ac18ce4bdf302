/**
 * Patients read from a FHIR server through the service's reader (FhirKitDataSource, fhir-kit-client):
 * the members of a Group, or the result of a Patient search read page by page (patients are
 * screened while later pages are still unread). Every request has the service's safeguards (issue
 * 16): answers bounded by FHIR_MAX_BODY (decoded bytes), nesting depth and FHIR_TIMEOUT_MS; reads,
 * next links and redirects kept under the base; FHIR_MAX_PAGES and FHIR_MAX_RESOURCES per search.
 * Each patient's record is read with the service's fetch plan (fetch-plan.ts, derived from the
 * ELM): one search per type the CQL retrieves, Observations by code, medications with their
 * Medications included (a referenced one not included is read by id). A search cut at a limit, or
 * whose searchset says (an OperationOutcome of severity warning or error) that data was withheld,
 * marks its type partial in the record: the criteria that read it are unknown (issue 12). A
 * failed read on a required search (a server error, an answer past a limit) fails that patient
 * only; an optional type the server lacks is read as none. An error on a page of the Patient
 * search ends the search with a failure (what was read is still screened).
 */
import type { PopulationItem } from './population-item.js';
import { patientIdOf } from './ndjson-export.js';
import { quoteUntrusted } from '../shared/untrusted-text.js';
import type { FetchKey } from '../cql/fetch-plan.js';
import type { FhirKitDataSource } from '../fhir/fhir-kit-data-source.js';
import type { FhirQuery } from '../fhir/patient-data-source.js';
import { outcomePartialReason, truncationOutcome } from '../fhir/partial-record.js';

export interface FhirServerInputOptions {
  readonly baseUrl: string;
  /** Bearer token (from FHIR_TOKEN), never logged or shown. */
  readonly token?: string;
  /** Screen this Group's members ... */
  readonly groupId?: string;
  /** ... or the Patients this search finds (`gender=female&birthdate=ge1960`); default: all. */
  readonly patientQuery?: string;
  /**
   * The reader every request goes through, with its limits (FHIR_MAX_BODY, FHIR_TIMEOUT_MS,
   * FHIR_MAX_PAGES, FHIR_MAX_RESOURCES); the caller closes it.
   */
  readonly reader: FhirKitDataSource;
  /** What to search for each patient (the service's fetch plan; loadFetchPlan()). */
  readonly plan: readonly FetchKey[];
}

/** Referenced Medications read by id per patient, at most. */
const MAX_MEDICATION_READS = 50;

type Json = Record<string, unknown>;

class FhirReadError extends Error {}

function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function entriesOf(bundle: Json): Json[] {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  return entries.filter(
    (e): e is Json =>
      isJsonObject(e) && isJsonObject(e.resource) && typeof e.resource.resourceType === 'string',
  );
}

function entryResources(bundle: Json): Json[] {
  return entriesOf(bundle).map((e) => e.resource as Json);
}

/**
 * The patients a FHIR server holds for a Group or a Patient search.
 * @param options - server, token, Group or search, limits.
 */
export async function* fhirServerItems(
  options: FhirServerInputOptions,
): AsyncGenerator<PopulationItem> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const reader = options.reader;
  const query = (q: string, signal?: AbortSignal): FhirQuery => ({
    fhirServer: baseUrl,
    query: q,
    ...(options.token !== undefined && options.token !== '' ? { accessToken: options.token } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
  /** A read by id (`Patient/1`): the reader checks it answers that type. */
  const get = (path: string, signal?: AbortSignal): Promise<Json> =>
    reader.fetch(query(path, signal));
  /**
   * Every resource of a patient's search (all pages, merged by the reader). A search cut at a
   * limit, or one whose searchset says data was withheld, ends with an OperationOutcome naming the
   * type: the record builder marks the type partial (patient-bundle.ts).
   */
  const fullUrls = new WeakMap<Json, string>();
  const searchAll = async (q: string, type: string, signal: AbortSignal): Promise<Json[]> => {
    const bundle = await reader.fetch(query(q, signal));
    const found: Json[] = [];
    let reason: string | undefined;
    for (const entry of entriesOf(bundle)) {
      const resource = entry.resource as Json;
      if (resource.resourceType === 'OperationOutcome') {
        const partial = outcomePartialReason(resource as never);
        if (partial === 'too-long' || (partial !== undefined && reason === undefined))
          reason = partial;
        continue;
      }
      // Each entry's fullUrl, by resource: absolute references to it resolve in the record.
      if (typeof entry.fullUrl === 'string') fullUrls.set(resource, entry.fullUrl);
      found.push(resource);
    }
    if (reason === 'too-long')
      found.push(truncationOutcome('FHIR_MAX_PAGES or FHIR_MAX_RESOURCES', type));
    else if (reason !== undefined)
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

  const patientQuery = (options.patientQuery ?? '').replace(/^\/?Patient\??/, '');
  const search = `Patient${patientQuery === '' ? '' : `?${patientQuery}`}`;
  let page = 0;
  let cut: string | undefined;
  try {
    for await (const bundle of reader.pages(query(search), (limit) => (cut = limit))) {
      page++;
      if (page === 1 && typeof bundle.total === 'number')
        yield { kind: 'expect', count: bundle.total };
      for (const patient of entryResources(bundle)) {
        if (patient.resourceType !== 'Patient' || typeof patient.id !== 'string') continue;
        if (typeof bundle.total !== 'number') yield { kind: 'expect', count: 1 };
        yield record(patient.id, patient);
      }
    }
    if (cut !== undefined) throw new FhirReadError(`the search has more than ${cut}`);
  } catch (error) {
    yield {
      kind: 'failure',
      source: `${baseUrl}/${search} (page ${page + 1})`,
      message: `${(error as Error).message}; the rest of the Patient search was not read`,
    };
  }
}
