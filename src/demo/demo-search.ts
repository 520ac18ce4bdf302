/**
 * One patient's searches on the embedded demo FHIR server, in plain JavaScript (issue 15).
 *
 * medplum's in-memory search evaluates every parameter as FHIRPath on every resource (about half a
 * millisecond each here): a `code` and `date` search over one Synthea record held the event loop,
 * and every hook call with it, for 150-500 ms. The demo server answers the parameters hook calls,
 * the CLIs and EHR simulators send with the matchers below, over the named patient's own record.
 */

type Json = Record<string, unknown>;

/** The parameters a patient's search may use besides patient/subject and paging. */
export const PATIENT_SEARCH_PARAMETERS = new Set([
  'category',
  'code',
  'status',
  'clinical-status',
  'verification-status',
  'intent',
  'date',
  'authoredon',
  'onset-date',
  'recorded-date',
  'effective',
  '_id',
]);

/** Where each token parameter looks, in any resource type that has the element. */
const TOKEN_PATHS: Readonly<Record<string, readonly string[]>> = {
  category: ['category'],
  code: ['code', 'medicationCodeableConcept', 'vaccineCode'],
  status: ['status'],
  'clinical-status': ['clinicalStatus'],
  'verification-status': ['verificationStatus'],
  intent: ['intent'],
  _id: ['id'],
};

/** Where each date parameter looks (dateTime, instant, date or Period). */
const DATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  date: ['effectiveDateTime', 'effectiveInstant', 'effectivePeriod', 'period', 'recordedDate'],
  effective: ['effectiveDateTime', 'effectivePeriod'],
  authoredon: ['authoredOn'],
  'onset-date': ['onsetDateTime', 'onsetPeriod'],
  'recorded-date': ['recordedDate'],
};

/** A search that names an unsupported parameter or a malformed value: 400. */
export class DemoSearchError extends Error {
  override readonly name = 'DemoSearchError';
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The codings of a code, Coding, CodeableConcept or Identifier, as [system, code] pairs. */
function codings(element: unknown): [unknown, unknown][] {
  if (typeof element === 'string') return [[undefined, element]];
  if (typeof element !== 'object' || element === null) return [];
  const o = element as Json;
  if ('coding' in o) return asArray(o.coding).flatMap(codings);
  return [[o.system, o.code ?? o.value]];
}

/**
 * A token parameter's values (`system|code`, `code`, `system|`, `|code`) compiled once into sets,
 * so that a search costs lookups per coding, not a pass over its values per resource.
 */
function tokenMatcher(values: readonly string[]): (element: unknown) => boolean {
  const exact = new Set<string>();
  const anySystem = new Set<string>();
  const systemOnly = new Set<string>();
  const noSystem = new Set<string>();
  for (const token of values) {
    const bar = token.indexOf('|');
    if (bar < 0) anySystem.add(token);
    else if (bar === token.length - 1) systemOnly.add(token.slice(0, bar));
    else if (bar === 0) noSystem.add(token.slice(1));
    else exact.add(token);
  }
  return (element) =>
    codings(element).some(([system, code]) => {
      if (typeof code !== 'string') return false;
      if (anySystem.has(code)) return true;
      if (system === undefined) return noSystem.has(code);
      return (
        typeof system === 'string' && (systemOnly.has(system) || exact.has(`${system}|${code}`))
      );
    });
}

/** The instants [from, to) a FHIR date, dateTime or instant covers, by its precision. */
function dateRange(value: string): [number, number] | undefined {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(T[^]*)?)?)?$/.exec(value);
  if (match === null) return undefined;
  const [, y, m, d, time] = match;
  if (time !== undefined) {
    const at = Date.parse(`${y}-${m}-${d}${time}`);
    return Number.isNaN(at) ? undefined : [at, at + 1000];
  }
  const from = Date.UTC(
    Number(y),
    m === undefined ? 0 : Number(m) - 1,
    d === undefined ? 1 : Number(d),
  );
  const to =
    m === undefined
      ? Date.UTC(Number(y) + 1, 0, 1)
      : d === undefined
        ? Date.UTC(Number(y), Number(m), 1)
        : from + 86_400_000;
  return [from, to];
}

function elementRange(element: unknown): [number, number] | undefined {
  if (typeof element === 'string') return dateRange(element);
  if (typeof element !== 'object' || element === null) return undefined;
  const { start, end } = element as Json;
  const from = typeof start === 'string' ? dateRange(start)?.[0] : -Infinity;
  const to = typeof end === 'string' ? dateRange(end)?.[1] : Infinity;
  return from === undefined || to === undefined ? undefined : [from, to];
}

/** One `date` value with its prefix (eq, ne, gt, lt, ge, le, sa, eb, ap), compiled once. */
function dateMatcher(value: string): (element: unknown) => boolean {
  const prefix = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)/.exec(value)?.[1] ?? 'eq';
  const wanted = dateRange(value.slice(/^[a-z]{2}/.test(value) ? 2 : 0));
  if (wanted === undefined) throw new DemoSearchError('a date search value is not a FHIR date');
  const [wFrom, wTo] = wanted;
  return (element) => {
    const have = elementRange(element);
    if (have === undefined) return false;
    const [from, to] = have;
    switch (prefix) {
      case 'gt':
      case 'sa':
        return to > wTo;
      case 'ge':
        return to > wFrom;
      case 'lt':
      case 'eb':
        return from < wFrom;
      case 'le':
        return from < wTo;
      case 'ne':
        return !(from >= wFrom && to <= wTo);
      default:
        return from >= wFrom && to <= wTo;
    }
  };
}

/**
 * Compiles a search of a patient's record (comma-separated values are "or", repeated parameters
 * "and") into a test of one resource.
 * @param params - the search, without patient/subject and paging parameters.
 * @throws DemoSearchError for an unsupported parameter or modifier, or a malformed date.
 */
export function compilePatientSearch(params: URLSearchParams): (resource: Json) => boolean {
  const tests: ((resource: Json) => boolean)[] = [];
  for (const [name, value] of params) {
    const [bare = name, modifier] = name.split(':');
    const values = value.split(',');
    const tokenPaths = TOKEN_PATHS[bare];
    const datePaths = DATE_PATHS[bare];
    const on =
      (paths: readonly string[], test: (element: unknown) => boolean) => (resource: Json) =>
        paths.some((p) => asArray(resource[p]).some(test));
    if (tokenPaths !== undefined && modifier === undefined) {
      tests.push(on(tokenPaths, tokenMatcher(values)));
    } else if (tokenPaths !== undefined && modifier === 'text') {
      const words = values.map((v) => v.toLowerCase());
      tests.push(
        on(tokenPaths, (e) => {
          const text = (e as Json | null)?.text;
          return typeof text === 'string' && words.some((w) => text.toLowerCase().includes(w));
        }),
      );
    } else if (datePaths !== undefined && modifier === undefined) {
      const dates = values.map(dateMatcher);
      tests.push(on(datePaths, (e) => dates.some((d) => d(e))));
    } else {
      throw new DemoSearchError(
        `the demo FHIR server does not support ${JSON.stringify(name.slice(0, 40))} on a patient's record`,
      );
    }
  }
  return (resource) => tests.every((t) => t(resource));
}
