/**
 * The port through which the service reads a patient's data from a FHIR server. The fhir-kit
 * adapter implements it over HTTP; tests use an in-memory one.
 */

/** A FHIR resource as JSON, checked only for its type. */
export interface FhirResourceJson {
  readonly resourceType: string;
  readonly [key: string]: unknown;
}

/** Whether a parsed JSON value is a FHIR resource (an object with a string resourceType). */
export function isResource(value: unknown): value is FhirResourceJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { resourceType?: unknown }).resourceType === 'string'
  );
}

export interface FhirQuery {
  /** The FHIR base URL the client named (`fhirServer`). */
  readonly fhirServer: string;
  /** A relative query with tokens filled: `Patient/123` or `Observation?patient=123&category=laboratory`. */
  readonly query: string;
  /** The bearer token from `fhirAuthorization`, when the client gave one. */
  readonly accessToken?: string;
  /** Cancels the request (time budget). */
  readonly signal?: AbortSignal;
}

export interface PatientDataSource {
  /**
   * Runs one prefetch query. A search answers one searchset Bundle holding the entries of every
   * page read (following `next` links up to the configured cap); a read answers the resource.
   * @throws FhirUnavailableError when the server fails, times out or answers something unusable.
   */
  fetch(query: FhirQuery): Promise<FhirResourceJson>;
}
