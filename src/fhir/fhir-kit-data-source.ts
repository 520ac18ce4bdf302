import { Client } from 'fhir-kit-client';
import { FhirUnavailableError } from '../cds-hooks/errors.js';
import type { FhirQuery, FhirResourceJson, PatientDataSource } from './patient-data-source.js';

export interface FhirKitDataSourceOptions {
  /** Per HTTP request (each page). */
  readonly timeoutMs: number;
  /** Pages read per search, the first included; further pages are left out (and logged by the caller). */
  readonly maxPages: number;
  /** Told when a search had more pages than maxPages. */
  readonly onTruncated?: (query: FhirQuery) => void;
}

function isResource(value: unknown): value is FhirResourceJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { resourceType?: unknown }).resourceType === 'string'
  );
}

interface BundleLink {
  relation?: unknown;
  url?: unknown;
}

function nextLink(bundle: FhirResourceJson): string | undefined {
  const links = Array.isArray(bundle.link) ? (bundle.link as BundleLink[]) : [];
  const next = links.find((l) => l.relation === 'next');
  return typeof next?.url === 'string' && next.url !== '' ? next.url : undefined;
}

/** The resource type a query answers: `Patient/1` -> Patient, `Observation?...` -> Bundle. */
function expectedType(query: string): string {
  const path = query.split('?')[0] ?? '';
  const segments = path.split('/').filter((s) => s !== '');
  return segments.length === 2 && !segments[1]?.startsWith('_') ? (segments[0] ?? '') : 'Bundle';
}

/** Describes a failure without URL, token or body: the message reaches the client and the logs. */
function describeFailure(error: unknown): string {
  // Duck-typed: the abort reason is a DOMException, not always an Error of this realm.
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'did not answer in time';
  const response = (error as { response?: { status?: unknown; data?: unknown } } | null)?.response;
  if (typeof response?.status === 'number') {
    if (response.status >= 200 && response.status < 300) return 'answered invalid JSON';
    return `answered HTTP ${response.status}`;
  }
  return 'could not be reached';
}

/**
 * Reads prefetch data with fhir-kit-client, sending the client's bearer token.
 * A next link must stay on the fhirServer's origin (never follow a link to another host).
 */
export class FhirKitDataSource implements PatientDataSource {
  constructor(private readonly options: FhirKitDataSourceOptions) {}

  async fetch(query: FhirQuery): Promise<FhirResourceJson> {
    const client = new Client({
      baseUrl: query.fhirServer,
      ...(query.accessToken !== undefined ? { bearerToken: query.accessToken } : {}),
    });
    const get = async (url: string): Promise<FhirResourceJson> => {
      const signals = [AbortSignal.timeout(this.options.timeoutMs)];
      if (query.signal !== undefined) signals.push(query.signal);
      let result: unknown;
      try {
        result = await client.request(url, { options: { signal: AbortSignal.any(signals) } });
      } catch (error) {
        throw new FhirUnavailableError(`the FHIR server ${describeFailure(error)}`, {
          cause: error,
        });
      }
      if (!isResource(result))
        throw new FhirUnavailableError(
          'the FHIR server answered something that is not a FHIR resource',
        );
      return result;
    };

    const want = expectedType(query.query);
    const first = await get(query.query);
    if (first.resourceType !== want)
      throw new FhirUnavailableError(
        `the FHIR server answered a ${first.resourceType} where a ${want} was expected`,
      );
    if (want !== 'Bundle') return first;

    const entries: unknown[] = Array.isArray(first.entry) ? [...(first.entry as unknown[])] : [];
    const origin = new URL(query.fhirServer).origin;
    let link = nextLink(first);
    let pages = 1;
    while (link !== undefined && pages < this.options.maxPages) {
      let url: URL;
      try {
        url = new URL(link, query.fhirServer);
      } catch {
        throw new FhirUnavailableError('the FHIR server answered an invalid next link');
      }
      if (url.origin !== origin)
        throw new FhirUnavailableError('the FHIR server answered a next link to another origin');
      const page = await get(url.href);
      if (page.resourceType !== 'Bundle')
        throw new FhirUnavailableError(
          `the FHIR server answered a ${page.resourceType} for a next page`,
        );
      if (Array.isArray(page.entry)) entries.push(...(page.entry as unknown[]));
      link = nextLink(page);
      pages++;
    }
    if (link !== undefined) this.options.onTruncated?.(query);
    // One Bundle of every page read: the paging links no longer apply.
    const merged: Record<string, unknown> = { ...first, entry: entries };
    delete merged.link;
    return { ...merged, resourceType: 'Bundle' };
  }
}
