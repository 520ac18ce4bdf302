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

/** `system|code`, `code`, `system|` and `|code` against a code, Coding, CodeableConcept or Identifier. */
function tokenMatches(element: unknown, token: string): boolean {
  const bar = token.indexOf('|');
  const system = bar < 0 ? undefined : token.slice(0, bar);
  const code = bar < 0 ? token : token.slice(bar + 1);
  const coding = (c: unknown): boolean => {
    if (typeof c === 'string') return system === undefined && c === code;
    if (typeof c !== 'object' || c === null) return false;
    const o = c as Json;
    const value = o.code ?? o.value;
    if (system !== undefined && system !== '' && o.system !== system) return false;
    if (system === '' && o.system !== undefined) return false;
    return code === '' || value === code;
  };
  if (typeof element === 'object' && element !== null && 'coding' in element)
    return asArray((element as Json).coding).some(coding);
  return coding(element);
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

/** One `date` value with its prefix (eq, ne, gt, lt, ge, le, sa, eb, ap) against an element. */
function dateMatches(element: unknown, value: string): boolean {
  const prefix = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)/.exec(value)?.[1] ?? 'eq';
  const wanted = dateRange(value.slice(/^[a-z]{2}/.test(value) ? 2 : 0));
  if (wanted === undefined) throw new DemoSearchError('a date search value is not a FHIR date');
  const have = elementRange(element);
  if (have === undefined) return false;
  const [from, to] = have;
  const [wFrom, wTo] = wanted;
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
}

/**
 * Whether a resource matches every parameter of a search (comma-separated values are "or").
 * @param resource - a resource of the patient's record.
 * @param params - the search, without patient/subject and paging parameters.
 * @throws DemoSearchError for an unsupported parameter or modifier, or a malformed date.
 */
export function matchesPatientSearch(resource: Json, params: URLSearchParams): boolean {
  for (const [name, value] of params) {
    const [bare = name, modifier] = name.split(':');
    const values = value.split(',');
    const tokenPaths = TOKEN_PATHS[bare];
    const datePaths = DATE_PATHS[bare];
    let matched: boolean;
    if (tokenPaths !== undefined && (modifier === undefined || modifier === 'text')) {
      const elements = tokenPaths.flatMap((p) => asArray(resource[p]));
      matched =
        modifier === 'text'
          ? elements.some((e) => {
              const text = (e as Json | null)?.text;
              return (
                typeof text === 'string' &&
                values.some((v) => text.toLowerCase().includes(v.toLowerCase()))
              );
            })
          : elements.some((e) => values.some((v) => tokenMatches(e, v)));
    } else if (datePaths !== undefined && modifier === undefined) {
      const elements = datePaths.flatMap((p) => asArray(resource[p]));
      matched = elements.some((e) => values.some((v) => dateMatches(e, v)));
    } else {
      throw new DemoSearchError(
        `the demo FHIR server does not support ${JSON.stringify(name.slice(0, 40))} on a patient's record`,
      );
    }
    if (!matched) return false;
  }
  return true;
}
