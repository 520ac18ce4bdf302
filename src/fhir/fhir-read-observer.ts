/**
 * Observing FHIR reads for metrics (issue 18): each HTTP request to a FHIR server (a page, a
 * redirect hop) is reported with its status class and how long it took. No URL, query or patient
 * identifier is reported.
 */

/** One HTTP request to a FHIR server. */
export interface FhirRead {
  /** `2xx`, `3xx` (a redirect being followed), `4xx`, `5xx`, or `error` (timeout, network, abort). */
  readonly statusClass: '2xx' | '3xx' | '4xx' | '5xx' | 'error';
  readonly seconds: number;
}

export type FhirReadObserver = (read: FhirRead) => void;

/**
 * The status class of a failed request: fhir-kit-client errors carry `response.status`.
 * @param error - what the request threw.
 */
export function statusClassOf(error: unknown): FhirRead['statusClass'] {
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  if (typeof status !== 'number') return 'error';
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (status >= 300) return '3xx';
  // A 2xx that failed (invalid JSON) still answered 2xx.
  return '2xx';
}

/**
 * Runs one request, reporting it to the observer (when there is one).
 * @param request - the request.
 * @param observer - where the read is reported.
 */
export async function observedRead<T>(
  request: () => Promise<T>,
  observer: FhirReadObserver | undefined,
): Promise<T> {
  if (observer === undefined) return request();
  const began = performance.now();
  try {
    const result = await request();
    observer({ statusClass: '2xx', seconds: (performance.now() - began) / 1000 });
    return result;
  } catch (error) {
    observer({ statusClass: statusClassOf(error), seconds: (performance.now() - began) / 1000 });
    throw error;
  }
}
