import {
  isResource,
  type FhirResourceJson,
  type PatientDataSource,
} from '../fhir/patient-data-source.js';
import { FhirUnavailableError, InvalidRequestError, PrefetchUnavailableError } from './errors.js';
import type { PatientViewRequest } from './request.js';
import type { ServiceDefinition } from './service-definition.js';

/**
 * Prefetch as CDS Hooks 2.0.1 defines it: a key the client sent is used as sent (`null` = no
 * data); only the keys it left out are fetched from `fhirServer` with its access token.
 * {@link https://cds-hooks.hl7.org/2.0/#prefetch-template}
 */

/** What one prefetch key contributed, for logs (no data, only counts). */
export interface PrefetchKeyReport {
  readonly key: string;
  readonly source: 'prefetch' | 'fetched' | 'none';
  readonly resources: number;
  /** OperationOutcome values or entries that were skipped. */
  readonly outcomes: number;
  /** An optional key whose fetch failed: treated as no data. */
  readonly failed?: true;
}

/** What the caller may fetch, and how much. */
export interface PrefetchLimits {
  /** Whether the service may read from this fhirServer (the SSRF guard); absent: any. */
  readonly allowFhirServer?: (fhirServer: string) => boolean;
  /** Resources of the whole record (every key together), at most. */
  readonly maxResources?: number;
}

export interface ResolvedPrefetch {
  /** Every resource found, in template order, duplicates removed (same type and id). */
  readonly resources: readonly FhirResourceJson[];
  readonly report: readonly PrefetchKeyReport[];
}

/**
 * Fills a template's tokens from the context.
 * @returns the query, or undefined when a token has no value in this call (e.g. no encounterId).
 */
export function fillTemplate(template: string, request: PatientViewRequest): string | undefined {
  const { userId } = request.context;
  const [userType, userRef] = userId.split('/');
  const values: Record<string, string | undefined> = {
    'context.patientId': request.context.patientId,
    'context.userId': userId,
    'context.encounterId': request.context.encounterId,
    userPractitionerId: userType === 'Practitioner' ? userRef : undefined,
    userPractitionerRoleId: userType === 'PractitionerRole' ? userRef : undefined,
    userPatientId: userType === 'Patient' ? userRef : undefined,
    userRelatedPersonId: userType === 'RelatedPerson' ? userRef : undefined,
  };
  const unfilled: string[] = [];
  const query = template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_match, token: string) => {
    const value = values[token];
    if (value === undefined) {
      unfilled.push(token);
      return '';
    }
    return encodeURIComponent(value);
  });
  return unfilled.length > 0 ? undefined : query;
}

/** The resources a prefetch value holds, and how many OperationOutcomes were skipped. */
function unpack(
  key: string,
  value: FhirResourceJson,
): { resources: FhirResourceJson[]; outcomes: number } {
  if (value.resourceType === 'OperationOutcome') return { resources: [], outcomes: 1 };
  if (value.resourceType !== 'Bundle') return { resources: [value], outcomes: 0 };
  const entries = value.entry;
  if (entries === undefined) return { resources: [], outcomes: 0 };
  if (!Array.isArray(entries))
    throw new InvalidRequestError(`prefetch.${key}: Bundle.entry must be an array`, {
      expression: [`prefetch.${key}.entry`],
    });
  const resources: FhirResourceJson[] = [];
  let outcomes = 0;
  entries.forEach((entry: unknown, index) => {
    const resource = (entry as { resource?: unknown } | null)?.resource;
    if (!isResource(resource))
      throw new InvalidRequestError(`prefetch.${key}: entry ${index} has no resource`, {
        expression: [`prefetch.${key}.entry[${index}]`],
      });
    if (resource.resourceType === 'OperationOutcome') outcomes++;
    else resources.push(resource);
  });
  return { resources, outcomes };
}

/**
 * Collects the data of every prefetch key of the service: the client's values where present,
 * the missing keys fetched in parallel.
 * @param service - the called service (its templates and optional keys).
 * @param request - the validated hook request.
 * @param dataSource - reads missing keys from the client's FHIR server.
 * @param signal - cancels fetches.
 * @param limits - the FHIR servers that may be called, and the record's size.
 * @throws PrefetchUnavailableError (412) when keys are missing and there is no fhirServer, or one
 *   this service may not call;
 *   FhirUnavailableError (412) when the FHIR server fails for a required key;
 *   InvalidRequestError (400) when a prefetch value is not FHIR.
 */
export async function resolvePrefetch(
  service: ServiceDefinition,
  request: PatientViewRequest,
  dataSource: PatientDataSource,
  signal?: AbortSignal,
  limits: PrefetchLimits = {},
): Promise<ResolvedPrefetch> {
  const templates = Object.entries(service.prefetch ?? {});
  const optional = new Set(service.optionalPrefetch ?? []);
  const given: [string, unknown][] = [];
  const missing: [string, string][] = [];
  for (const [key, template] of templates) {
    const value = Object.hasOwn(request.prefetch, key) ? request.prefetch[key] : undefined;
    if (value === undefined) {
      const query = fillTemplate(template, request);
      // A token without a value (say, no encounter) makes the key inapplicable, not missing.
      if (query !== undefined) missing.push([key, query]);
    } else {
      given.push([key, value]);
    }
  }
  if (missing.length > 0 && request.fhirServer === undefined) {
    throw new PrefetchUnavailableError(
      `prefetch keys ${missing.map(([k]) => k).join(', ')} are missing and no fhirServer was given to fetch them`,
      { expression: missing.map(([k]) => `prefetch.${k}`) },
    );
  }
  // The SSRF guard: nothing leaves for a server the caller may not name.
  if (
    missing.length > 0 &&
    request.fhirServer !== undefined &&
    limits.allowFhirServer !== undefined &&
    !limits.allowFhirServer(request.fhirServer)
  ) {
    throw new PrefetchUnavailableError(
      `prefetch keys ${missing.map(([k]) => k).join(', ')} are missing and fhirServer is not a server this service may call`,
      { expression: ['fhirServer'] },
    );
  }

  const reports = new Map<string, { report: PrefetchKeyReport; resources: FhirResourceJson[] }>();
  for (const [key, value] of given) {
    if (value === null) {
      reports.set(key, {
        report: { key, source: 'none', resources: 0, outcomes: 0 },
        resources: [],
      });
      continue;
    }
    if (!isResource(value))
      throw new InvalidRequestError(`prefetch.${key} must be a FHIR resource or null`, {
        expression: [`prefetch.${key}`],
      });
    const { resources, outcomes } = unpack(key, value);
    reports.set(key, {
      report: { key, source: 'prefetch', resources: resources.length, outcomes },
      resources,
    });
  }

  const fhirServer = request.fhirServer;
  const accessToken = request.fhirAuthorization?.access_token;
  const fetched = await Promise.all(
    missing.map(async ([key, query]) => {
      try {
        const value = await dataSource.fetch({
          fhirServer: fhirServer as string,
          query,
          ...(accessToken !== undefined ? { accessToken } : {}),
          ...(signal !== undefined ? { signal } : {}),
        });
        return { key, value };
      } catch (error) {
        if (error instanceof FhirUnavailableError && optional.has(key))
          return { key, value: undefined };
        if (error instanceof FhirUnavailableError)
          throw new FhirUnavailableError(`${error.message} for prefetch key ${key}`, {
            cause: error,
            expression: [`prefetch.${key}`],
          });
        throw error;
      }
    }),
  );
  for (const { key, value } of fetched) {
    if (value === undefined) {
      reports.set(key, {
        report: { key, source: 'fetched', resources: 0, outcomes: 0, failed: true },
        resources: [],
      });
      continue;
    }
    const { resources, outcomes } = unpack(key, value);
    reports.set(key, {
      report: { key, source: 'fetched', resources: resources.length, outcomes },
      resources,
    });
  }

  const seen = new Set<string>();
  const resources: FhirResourceJson[] = [];
  const report: PrefetchKeyReport[] = [];
  for (const [key] of templates) {
    const item = reports.get(key);
    if (item === undefined) continue;
    report.push(item.report);
    for (const resource of item.resources) {
      const id = typeof resource.id === 'string' ? resource.id : undefined;
      const identity = id === undefined ? undefined : `${resource.resourceType}/${id}`;
      if (identity !== undefined) {
        if (seen.has(identity)) continue;
        seen.add(identity);
      }
      resources.push(resource);
    }
  }
  if (limits.maxResources !== undefined && resources.length > limits.maxResources)
    throw new PrefetchUnavailableError(
      `the patient record has more than ${limits.maxResources} resources (FHIR_MAX_RESOURCES)`,
      { expression: ['prefetch'] },
    );
  return { resources, report };
}
