import { Client } from 'fhir-kit-client';
import type { Dispatcher } from 'undici';
import { FhirUnavailableError } from '../shared/errors.js';
import { findTooDeep } from '../security/json-limits.js';
import { createOutboundDispatcher, isResponseTooLarge } from '../security/outbound-http.js';
import { isRequestUnderBase } from '../security/urls.js';
import { quoteUntrusted } from '../shared/untrusted-text.js';
import { truncationOutcome } from './partial-record.js';
import {
  isResource,
  type FhirQuery,
  type FhirResourceJson,
  type PatientDataSource,
} from './patient-data-source.js';
import { observedRead, type FhirReadObserver } from './fhir-read-observer.js';

export interface FhirKitDataSourceOptions {
  /** Per HTTP request (each page). */
  readonly timeoutMs: number;
  /** Pages read per search, the first included; further pages are left out (and logged by the caller). */
  readonly maxPages: number;
  /** Told when a search had more pages than maxPages. */
  readonly onTruncated?: (query: FhirQuery) => void;
  /** Largest answer (each page), in bytes (default 20 MiB). */
  readonly maxResponseBytes?: number;
  /**
   * Entries of one search, all pages together, at most (default 10,000): past it the search is
   * cut, and marked so (a partial record, issue 12).
   */
  readonly maxResources?: number;
  /** Each HTTP request's status class and duration, for metrics (issue 18). */
  readonly onRead?: FhirReadObserver;
}

/** Same-origin redirects followed per request, at most. */
const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The Location of a redirect fhir-kit-client reported as an error, if it was one. */
function redirectLocation(error: unknown): string | undefined {
  const failure = error as {
    response?: { status?: unknown };
    config?: { headers?: { get?: (name: string) => string | null } };
  } | null;
  const status = failure?.response?.status;
  if (typeof status !== 'number' || !REDIRECT_STATUSES.has(status)) return undefined;
  const location = failure?.config?.headers?.get?.('location');
  return typeof location === 'string' && location !== '' ? location : undefined;
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

/** The query without `_sort`, `_count` and `_include`, for a server that refuses them. */
function withoutPaging(query: string): string {
  const [path = '', search] = query.split('?', 2);
  if (search === undefined) return query;
  const kept = search.split('&').filter((p) => !/^_(sort|count|include)(:[a-z]+)?=/.test(p));
  return kept.length > 0 ? `${path}?${kept.join('&')}` : path;
}

function isBadRequest(error: FhirUnavailableError): boolean {
  const status = (error.cause as { response?: { status?: unknown } } | undefined)?.response?.status;
  return status === 400;
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
  if (isResponseTooLarge(error)) return 'answered more data than FHIR_MAX_BODY allows';
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return 'did not answer in time';
  const response = (error as { response?: { status?: unknown; data?: unknown } } | null)?.response;
  if (typeof response?.status === 'number') {
    if (response.status >= 200 && response.status < 300) return 'answered invalid JSON';
    return `answered HTTP ${response.status}`;
  }
  return 'could not be reached';
}

/**
 * Reads prefetch data with fhir-kit-client, sending the client's bearer token.
 * Every request, next link and redirect stays under the fhirServer base (never another host, nor
 * another path of the same host); answers are bounded in size (bytes, nesting, entries) and time.
 */
export class FhirKitDataSource implements PatientDataSource {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: FhirKitDataSourceOptions) {
    this.dispatcher = createOutboundDispatcher({
      maxResponseBytes: options.maxResponseBytes ?? 20 * 1024 * 1024,
      timeoutMs: options.timeoutMs,
    });
  }

  /** Closes the pooled connections (at shutdown). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** A fhir-kit-client for the query's server, and one bounded read through it (redirects under the base). */
  private session(query: FhirQuery): {
    client: Client;
    origin: string;
    get: (first: string) => Promise<FhirResourceJson>;
  } {
    const client = new Client({
      baseUrl: query.fhirServer,
      ...(query.accessToken !== undefined ? { bearerToken: query.accessToken } : {}),
    });
    const origin = new URL(query.fhirServer).origin;
    const get = async (first: string): Promise<FhirResourceJson> => {
      const signals = [AbortSignal.timeout(this.options.timeoutMs)];
      if (query.signal !== undefined) signals.push(query.signal);
      const signal = AbortSignal.any(signals);
      let url = first;
      let result: unknown;
      for (let hop = 0; ; hop++) {
        try {
          result = await observedRead(
            () =>
              client.request(url, {
                // Node's fetch takes undici's dispatcher; the package's types differ from Node's.
                options: {
                  signal,
                  redirect: 'manual',
                  dispatcher: this.dispatcher as unknown as NonNullable<RequestInit['dispatcher']>,
                },
              }),
            this.options.onRead,
          );
          break;
        } catch (error) {
          const location = redirectLocation(error);
          if (location === undefined)
            throw new FhirUnavailableError(`the FHIR server ${describeFailure(error)}`, {
              cause: error,
            });
          let target: URL;
          try {
            target = new URL(location, client.httpClient.expandUrl(url));
          } catch {
            throw new FhirUnavailableError('the FHIR server answered an invalid redirect');
          }
          if (target.origin !== origin)
            throw new FhirUnavailableError('the FHIR server redirected to another origin');
          if (!isRequestUnderBase(target.href, query.fhirServer))
            throw new FhirUnavailableError('the FHIR server redirected outside fhirServer');
          if (hop >= MAX_REDIRECTS)
            throw new FhirUnavailableError('the FHIR server redirected too many times');
          url = target.href;
        }
      }
      if (!isResource(result))
        throw new FhirUnavailableError(
          'the FHIR server answered something that is not a FHIR resource',
        );
      if (findTooDeep(result) !== undefined)
        throw new FhirUnavailableError('the FHIR server answered JSON nested too deeply');
      return result;
    };
    return { client, origin, get };
  }

  /** The first answer to a query; one refused for `_sort`/`_count`/`_include` is asked again without. */
  private async first(
    query: FhirQuery,
    session: ReturnType<FhirKitDataSource['session']>,
  ): Promise<FhirResourceJson> {
    if (!isRequestUnderBase(session.client.httpClient.expandUrl(query.query), query.fhirServer))
      throw new FhirUnavailableError('the query would leave fhirServer');
    let first: FhirResourceJson;
    try {
      first = await session.get(query.query);
    } catch (error) {
      // `_sort`, `_count` and `_include` are asked for where servers support them; one that
      // refuses them (HTTP 400) is asked again without (referenced Medications are then read
      // one by one).
      const plain = withoutPaging(query.query);
      if (!(error instanceof FhirUnavailableError) || plain === query.query || !isBadRequest(error))
        throw error;
      first = await session.get(plain);
    }
    const want = expectedType(query.query);
    if (first.resourceType !== want)
      throw new FhirUnavailableError(
        `the FHIR server answered a ${quoteUntrusted(first.resourceType)} where a ${want} was expected`,
      );
    return first;
  }

  /**
   * The pages of a search, one by one as they are read (the caller may stop early), with every
   * safeguard of fetch(): each page bounded in bytes, nesting and time, next links kept under
   * fhirServer. Past maxPages the search ends and `onCut` is told why.
   * @param query - a search (its answer is a Bundle).
   * @param onCut - told the limit that ended the search while pages were left unread.
   */
  async *pages(
    query: FhirQuery,
    onCut?: (limit: string) => void,
  ): AsyncGenerator<FhirResourceJson, void, undefined> {
    const session = this.session(query);
    if (expectedType(query.query) !== 'Bundle')
      throw new FhirUnavailableError('the query is a read, not a search');
    let page = await this.first(query, session);
    yield page;
    for (let pages = 1; ; pages++) {
      const link = nextLink(page);
      if (link === undefined) return;
      if (pages >= this.options.maxPages) {
        onCut?.(`${this.options.maxPages} pages (FHIR_MAX_PAGES)`);
        return;
      }
      let url: URL;
      try {
        url = new URL(link, query.fhirServer);
      } catch {
        throw new FhirUnavailableError('the FHIR server answered an invalid next link');
      }
      if (url.origin !== session.origin)
        throw new FhirUnavailableError('the FHIR server answered a next link to another origin');
      if (!isRequestUnderBase(url.href, query.fhirServer))
        throw new FhirUnavailableError('the FHIR server answered a next link outside fhirServer');
      page = await session.get(url.href);
      if (page.resourceType !== 'Bundle')
        throw new FhirUnavailableError(
          `the FHIR server answered a ${quoteUntrusted(page.resourceType)} for a next page`,
        );
      yield page;
    }
  }

  async fetch(query: FhirQuery): Promise<FhirResourceJson> {
    if (expectedType(query.query) !== 'Bundle') return this.first(query, this.session(query));
    const maxResources = this.options.maxResources ?? 10_000;
    let first: FhirResourceJson | undefined;
    const entries: unknown[] = [];
    let cut: string | undefined;
    for await (const page of this.pages(query, (limit) => (cut = limit))) {
      first ??= page;
      if (Array.isArray(page.entry)) entries.push(...(page.entry as unknown[]));
      if (entries.length > maxResources) break;
    }
    if (entries.length > maxResources) {
      entries.length = maxResources;
      cut = `${maxResources} resources (FHIR_MAX_RESOURCES)`;
    }
    if (cut !== undefined) {
      this.options.onTruncated?.(query);
      // Said in the searchset as a server would: the reader marks the type partial.
      entries.push({ resource: truncationOutcome(cut), search: { mode: 'outcome' } });
    }
    // One Bundle of every page read: the paging links no longer apply.
    const merged: Record<string, unknown> = { ...first, entry: entries };
    delete merged.link;
    return { ...merged, resourceType: 'Bundle' };
  }
}
