import {
  isResource,
  type FhirResourceJson,
  type PatientDataSource,
} from '../fhir/patient-data-source.js';
import {
  addCount,
  belongsToPatient,
  totalCount,
  type CountsByType,
} from '../fhir/patient-references.js';
import { addPartial, outcomePartialReason, type PartialReason } from '../fhir/partial-record.js';
import {
  FhirUnavailableError,
  InvalidRequestError,
  PrefetchUnavailableError,
} from '../shared/errors.js';
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
  /** Resources about another patient, left out, by type (issue 15 item 1). */
  readonly foreign?: CountsByType;
  /** Resources of a type the key's query cannot answer, left out, by type. */
  readonly unexpected?: CountsByType;
  /**
   * The key holds part of what it asks for (issue 12): the search was cut at a limit, or the
   * server said (an OperationOutcome of severity warning or error) that it withheld some.
   */
  readonly partial?: PartialReason;
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
  /** The resource types read only in part, and why (criteria reading them are unknown). */
  readonly partial: Readonly<Record<string, PartialReason>>;
  /** `fullUrl` -> `Type/id` of the resources read from searchsets (absolute references). */
  readonly fullUrls: ReadonlyMap<string, string>;
}

/** Referenced Medications read one by one from the server, at most this many per call ... */
const MAX_MEDICATION_READS = 50;
/** ... and this many at a time. */
const MEDICATION_READ_CONCURRENCY = 4;

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

/** `medication` -> `Medication`: the type an `_include` without a target type names. */
function capitalise(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{0,63}$/;

/**
 * The resource types a prefetch key may hold, read from its query template: the type the read or
 * search returns (`Patient/{{context.patientId}}` -> Patient, `Observation?...` -> Observation,
 * a compartment search `Patient/{{id}}/Condition` -> Condition), OperationOutcome (a server's
 * warnings ride along), and what `_include` (`MedicationRequest:medication[:Medication]` ->
 * Medication) and `_revinclude` (`Provenance:target` -> Provenance) add.
 * @param template - a prefetch template of the service definition.
 * @returns the types, or undefined when the query may return any (`$everything`, `_include=*`).
 */
export function templateResourceTypes(template: string): ReadonlySet<string> | undefined {
  const [path = '', search = ''] = template.split('?', 2);
  const segments = path.split('/').filter((segment) => segment !== '');
  const returned = segments.length === 3 ? segments[2] : segments[0];
  if (returned === undefined || !RESOURCE_TYPE.test(returned) || segments.length > 3)
    return undefined;
  const types = new Set([returned, 'OperationOutcome']);
  for (const [name, value] of new URLSearchParams(search)) {
    const include = name === '_include' || name.startsWith('_include:');
    const revinclude = name === '_revinclude' || name.startsWith('_revinclude:');
    if (!include && !revinclude) continue;
    const [source = '', parameter = '', target] = value.split(':');
    if (value === '*' || parameter === '*') return undefined;
    const type = revinclude ? source : (target ?? capitalise(parameter));
    if (!RESOURCE_TYPE.test(type)) return undefined;
    types.add(type);
  }
  return types;
}

/** What one key's value yields once unpacked and checked. */
interface Unpacked {
  readonly resources: FhirResourceJson[];
  readonly outcomes: number;
  readonly foreign: CountsByType;
  readonly unexpected: CountsByType;
  readonly partial?: PartialReason;
  /** fullUrl -> Type/id of the entries kept. */
  readonly fullUrls: [string, string][];
}

/**
 * The resources a prefetch value holds, with how many OperationOutcomes were skipped. A resource
 * of a type the key's query cannot answer, or about another patient, is left out and counted: it
 * must never decide a criterion, and refusing the whole call for it would leave the clinician
 * without the advice the rest of the record supports. A Patient sent as the key's value itself is
 * kept for the caller's check against context.patientId (a 400: the EHR named the wrong patient).
 */
function unpack(
  key: string,
  value: FhirResourceJson,
  types: ReadonlySet<string> | undefined,
  patientId: string,
): Unpacked {
  const foreign: CountsByType = {};
  const unexpected: CountsByType = {};
  const keep = (resource: FhirResourceJson): boolean => {
    if (types !== undefined && !types.has(resource.resourceType)) {
      addCount(unexpected, resource.resourceType);
      return false;
    }
    if (!belongsToPatient(resource, { id: patientId })) {
      addCount(foreign, resource.resourceType);
      return false;
    }
    return true;
  };
  const fullUrls: [string, string][] = [];
  let partial: PartialReason | undefined;
  const result = (resources: FhirResourceJson[], outcomes: number): Unpacked => ({
    resources,
    outcomes,
    foreign,
    unexpected,
    fullUrls,
    ...(partial !== undefined ? { partial } : {}),
  });
  if (value.resourceType === 'OperationOutcome') {
    // The key's data could not be had at all: what it asks for is not known.
    partial = outcomePartialReason(value);
    return result([], 1);
  }
  if (value.resourceType !== 'Bundle') {
    if (value.resourceType === 'Patient' && (types === undefined || types.has('Patient')))
      return result([value], 0);
    return result(keep(value) ? [value] : [], 0);
  }
  const entries = value.entry;
  if (entries === undefined) return result([], 0);
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
    if (resource.resourceType === 'OperationOutcome') {
      outcomes++;
      const reason = outcomePartialReason(resource);
      if (reason !== undefined && partial !== 'too-long') partial = reason;
    } else if (keep(resource)) {
      resources.push(resource);
      const fullUrl = (entry as { fullUrl?: unknown }).fullUrl;
      if (typeof fullUrl === 'string' && typeof resource.id === 'string')
        fullUrls.push([fullUrl, `${resource.resourceType}/${resource.id}`]);
    }
  });
  return result(resources, outcomes);
}

/** A key's report: counts, and what was left out when anything was. */
function keyReport(
  key: string,
  source: 'prefetch' | 'fetched',
  unpacked: Unpacked,
): PrefetchKeyReport {
  return {
    key,
    source,
    resources: unpacked.resources.length,
    outcomes: unpacked.outcomes,
    ...(totalCount(unpacked.foreign) > 0 ? { foreign: unpacked.foreign } : {}),
    ...(totalCount(unpacked.unexpected) > 0 ? { unexpected: unpacked.unexpected } : {}),
    ...(unpacked.partial !== undefined ? { partial: unpacked.partial } : {}),
  };
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
  // Keys of earlier definitions, used when an EHR still sends them (never fetched).
  const legacy = Object.entries(service.legacyPrefetch ?? {}).filter(([key]) =>
    Object.hasOwn(request.prefetch, key),
  );
  const typesOf = new Map(
    [...templates, ...legacy].map(([key, template]) => [key, templateResourceTypes(template)]),
  );
  /** The type a key's query returns (its first type). */
  const returnedType = (key: string): string | undefined =>
    [...(typesOf.get(key) ?? [])].find((t) => t !== 'OperationOutcome');
  const legacyTypes = new Set(legacy.map(([key]) => returnedType(key)));
  const patientId = request.context.patientId;
  const optional = new Set(service.optionalPrefetch ?? []);
  const given: [string, unknown][] = [];
  const missing: [string, string][] = [];
  for (const [key, template] of [...templates, ...legacy]) {
    const value = Object.hasOwn(request.prefetch, key) ? request.prefetch[key] : undefined;
    if (value === undefined) {
      if (legacyTypes.has(returnedType(key))) continue;
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
  const mayRead =
    request.fhirServer !== undefined &&
    (limits.allowFhirServer === undefined || limits.allowFhirServer(request.fhirServer));
  // The SSRF guard: nothing leaves for a server the caller may not name.
  if (missing.length > 0 && !mayRead) {
    throw new PrefetchUnavailableError(
      `prefetch keys ${missing.map(([k]) => k).join(', ')} are missing and fhirServer is not a server this service may call`,
      { expression: ['fhirServer'] },
    );
  }

  const reports = new Map<
    string,
    { report: PrefetchKeyReport; resources: FhirResourceJson[]; fullUrls: [string, string][] }
  >();
  for (const [key, value] of given) {
    if (value === null) {
      reports.set(key, {
        report: { key, source: 'none', resources: 0, outcomes: 0 },
        resources: [],
        fullUrls: [],
      });
      continue;
    }
    if (!isResource(value))
      throw new InvalidRequestError(`prefetch.${key} must be a FHIR resource or null`, {
        expression: [`prefetch.${key}`],
      });
    const unpacked = unpack(key, value, typesOf.get(key), patientId);
    reports.set(key, {
      report: keyReport(key, 'prefetch', unpacked),
      resources: unpacked.resources,
      fullUrls: unpacked.fullUrls,
    });
  }

  const fhirServer = request.fhirServer;
  const accessToken = request.fhirAuthorization?.access_token;
  const read = (query: string): Promise<FhirResourceJson> =>
    dataSource.fetch({
      fhirServer: fhirServer as string,
      query,
      ...(accessToken !== undefined ? { accessToken } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
  const fetched = await Promise.all(
    missing.map(async ([key, query]) => {
      try {
        return { key, value: await read(query) };
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
        fullUrls: [],
      });
      continue;
    }
    const unpacked = unpack(key, value, typesOf.get(key), patientId);
    reports.set(key, {
      report: keyReport(key, 'fetched', unpacked),
      resources: unpacked.resources,
      fullUrls: unpacked.fullUrls,
    });
  }

  const seen = new Set<string>();
  const resources: FhirResourceJson[] = [];
  const report: PrefetchKeyReport[] = [];
  const partial: Record<string, PartialReason> = {};
  const fullUrls = new Map<string, string>();
  const add = (resource: FhirResourceJson): void => {
    const id = typeof resource.id === 'string' ? resource.id : undefined;
    const identity = id === undefined ? undefined : `${resource.resourceType}/${id}`;
    if (identity !== undefined) {
      if (seen.has(identity)) return;
      seen.add(identity);
    }
    resources.push(resource);
  };
  for (const [key] of [...templates, ...legacy]) {
    const item = reports.get(key);
    if (item === undefined) continue;
    report.push(item.report);
    const type = returnedType(key);
    if (item.report.partial !== undefined && type !== undefined)
      addPartial(partial, type, item.report.partial);
    for (const [fullUrl, ref] of item.fullUrls) fullUrls.set(fullUrl, ref);
    for (const resource of item.resources) add(resource);
  }

  // Medications referenced but not included: read from the same server (same token, bounded).
  if (mayRead) {
    const wanted = missingMedications(resources, seen, fullUrls, fhirServer as string);
    const reads = wanted.slice(0, MAX_MEDICATION_READS);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < reads.length) {
        const ref = reads[next++] as string;
        try {
          const medication = await read(ref);
          if (medication.resourceType === 'Medication') add(medication);
        } catch (error) {
          // Unread, the drug stays unresolved: the criteria that need it are unknown.
          if (!(error instanceof FhirUnavailableError)) throw error;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(MEDICATION_READ_CONCURRENCY, reads.length) }, worker),
    );
  }
  if (limits.maxResources !== undefined && resources.length > limits.maxResources)
    throw new PrefetchUnavailableError(
      `the patient record has more than ${limits.maxResources} resources (FHIR_MAX_RESOURCES)`,
      { expression: ['prefetch'] },
    );
  return { resources, report, partial, fullUrls };
}

/**
 * `Medication/id` of every Medication a resource references (relative, or absolute under the
 * FHIR server) that the record does not hold.
 */
function missingMedications(
  resources: readonly FhirResourceJson[],
  held: ReadonlySet<string>,
  fullUrls: ReadonlyMap<string, string>,
  fhirServer: string,
): string[] {
  const base = fhirServer.replace(/\/+$/, '');
  const wanted = new Set<string>();
  for (const resource of resources) {
    const ref = (resource.medicationReference as { reference?: unknown } | undefined)?.reference;
    if (typeof ref !== 'string' || ref.startsWith('#')) continue;
    const relative =
      fullUrls.get(ref) ?? (ref.startsWith(`${base}/`) ? ref.slice(base.length + 1) : ref);
    if (/^Medication\/[A-Za-z0-9\-.]{1,64}$/.test(relative) && !held.has(relative))
      wanted.add(relative);
  }
  return [...wanted];
}

/**
 * What every key left out, summed by type, for one log line (counts and types only), or
 * undefined when nothing was.
 * @param report - the keys' reports.
 */
export function droppedResources(
  report: readonly PrefetchKeyReport[],
): { readonly foreign?: CountsByType; readonly unexpected?: CountsByType } | undefined {
  const foreign: CountsByType = {};
  const unexpected: CountsByType = {};
  for (const item of report) {
    for (const [type, n] of Object.entries(item.foreign ?? {}))
      foreign[type] = (foreign[type] ?? 0) + n;
    for (const [type, n] of Object.entries(item.unexpected ?? {}))
      unexpected[type] = (unexpected[type] ?? 0) + n;
  }
  if (totalCount(foreign) + totalCount(unexpected) === 0) return undefined;
  return {
    ...(totalCount(foreign) > 0 ? { foreign } : {}),
    ...(totalCount(unexpected) > 0 ? { unexpected } : {}),
  };
}
