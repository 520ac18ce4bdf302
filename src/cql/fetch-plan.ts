/**
 * What to ask a FHIR server for, derived from the ELM (issue 12): every retrieve of every library
 * names a resource type and, for most, a value set of codes. The plan asks for each type the
 * libraries retrieve, and for Observations by `code` (every code a retrieve can match), never by
 * category: categories are not reliable (US Core files pregnancy status under social-history,
 * Oracle Health point-of-care results may carry none), and Epic accepts `code` where it requires
 * `code` or `category`. Medications come with their Medication resources (`_include`).
 *
 * The CDS Hooks prefetch templates (hooks/trial-matcher.json) are generated from this plan by
 * `npm run cql:build`; `cql:check` fails when they differ, and `uncoveredRetrieves` names a
 * retrieve no template answers. The population reader of the `screen` CLI reads the same plan.
 */
import type { ElmLibrarySet } from './elm-library-set.js';
import type { ValueSetExpansions } from './value-sets.js';
import { FHIR_TYPE, retrievesOf, valueSetUrl } from './retrieve-scope.js';

/** One retrieve of the ELM: its type and, when it filters by a value set, the codes it can match. */
export interface PlannedRetrieve {
  readonly library: string;
  readonly type: string;
  /** `system|code` tokens; undefined when the retrieve takes every resource of the type. */
  readonly codes?: ReadonlySet<string>;
}

/** One search (or read) of the plan, as a prefetch template. */
export interface FetchKey {
  readonly key: string;
  readonly template: string;
  /** The resource type the key returns. */
  readonly type: string;
  /** A server may not have the type (Epic and Oracle Health R4 have no MedicationStatement). */
  readonly optional: boolean;
}

/** Types every US Core server supports: their searches must answer. */
const REQUIRED_TYPES = new Set(['Patient', 'Condition', 'Observation', 'MedicationRequest']);

/** Types whose resources name their drug by `medicationReference`: their Medications are included. */
const MEDICATION_TYPES = new Set([
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
  'MedicationDispense',
]);

/** Key names the service has always used, kept so that EHR configurations stay valid. */
const KEY_NAMES: Readonly<Record<string, string>> = {
  Patient: 'patient',
  Condition: 'conditions',
  Observation: 'observations',
  MedicationRequest: 'medicationRequests',
  MedicationStatement: 'medicationStatements',
  MedicationAdministration: 'medicationAdministrations',
  MedicationDispense: 'medicationDispenses',
  AllergyIntolerance: 'allergyIntolerances',
  Procedure: 'procedures',
};

/** Entries newest first where servers support it, and pages of 100 (HAPI, Oracle Health). */
const OBSERVATION_PAGING = '&_sort=-date&_count=100';

/**
 * Codes of one Observation search, at most this many characters: Epic, HAPI and proxies take URLs
 * of 2,000 characters and more; a longer list is split over several keys.
 */
const MAX_CODE_LIST = 1500;

/**
 * Every retrieve of every library, with the codes it can match.
 * @param elms - every library the engine runs.
 * @param valueSets - the expansions (cql/valuesets.json, with a site's codes when given).
 * @throws Error for a retrieve of a model other than FHIR.
 */
export function plannedRetrieves(
  elms: ElmLibrarySet,
  valueSets: ValueSetExpansions,
): PlannedRetrieve[] {
  const found: PlannedRetrieve[] = [];
  for (const [library, elm] of Object.entries(elms.all())) {
    for (const retrieve of retrievesOf(elm)) {
      const type = FHIR_TYPE.exec(retrieve.dataType ?? '')?.[1];
      if (type === undefined)
        throw new Error(`${library}: a retrieve of ${retrieve.dataType ?? '?'} is not FHIR`);
      const url =
        retrieve.codes?.type === 'ValueSetRef' && retrieve.codeProperty === 'code'
          ? valueSetUrl(elms, elm, retrieve.codes)
          : undefined;
      const expansion = url === undefined ? undefined : Object.values(valueSets[url] ?? {})[0];
      found.push({
        library,
        type,
        ...(expansion !== undefined
          ? { codes: new Set(expansion.map((c) => `${c.system}|${c.code}`)) }
          : {}),
      });
    }
  }
  return found;
}

/** `MedicationRequest` -> `medicationRequests`, for a type without a key name of its own. */
function keyName(type: string): string {
  return KEY_NAMES[type] ?? `${type.charAt(0).toLowerCase()}${type.slice(1)}s`;
}

/**
 * The plan: one key per type the libraries retrieve (the Patient always), Observations searched
 * by code.
 * @param retrieves - plannedRetrieves().
 * @throws Error when an Observation retrieve has no code filter (a code search cannot answer it).
 */
export function fetchPlan(retrieves: readonly PlannedRetrieve[]): FetchKey[] {
  const types = new Set(['Patient', ...retrieves.map((r) => r.type)]);
  const plan: FetchKey[] = [];
  for (const type of [...types].sort(byKeyOrder)) {
    const key = keyName(type);
    const optional = !REQUIRED_TYPES.has(type);
    if (type === 'Patient') {
      plan.push({ key, template: 'Patient/{{context.patientId}}', type, optional });
      continue;
    }
    const search = `${type}?patient={{context.patientId}}`;
    if (type === 'Observation') {
      const unfiltered = retrieves.find((r) => r.type === type && r.codes === undefined);
      if (unfiltered !== undefined)
        throw new Error(
          `${unfiltered.library}: an Observation retrieve without a value set cannot be fetched by code`,
        );
      const codes = [
        ...new Set(retrieves.filter((r) => r.type === type).flatMap((r) => [...(r.codes ?? [])])),
      ].sort();
      const chunks: string[][] = [[]];
      for (const code of codes) {
        const chunk = chunks[chunks.length - 1] as string[];
        if (chunk.length > 0 && [...chunk, code].join(',').length > MAX_CODE_LIST)
          chunks.push([code]);
        else chunk.push(code);
      }
      chunks.forEach((chunk, index) => {
        plan.push({
          key: index === 0 ? key : `${key}${index + 1}`,
          template: `${search}&code=${chunk.join(',')}${OBSERVATION_PAGING}`,
          type,
          optional,
        });
      });
      continue;
    }
    const include = MEDICATION_TYPES.has(type) ? `&_include=${type}:medication` : '';
    plan.push({ key, template: `${search}${include}`, type, optional });
  }
  return plan;
}

/** Known types in the order of KEY_NAMES, then the rest by name. */
function byKeyOrder(a: string, b: string): number {
  const order = Object.keys(KEY_NAMES);
  const ia = order.indexOf(a);
  const ib = order.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
  return a.localeCompare(b);
}

/**
 * The retrieves no prefetch template answers: no template searches the type, or (for a code
 * search) some code of the retrieve is not asked for. A template with no `code` parameter answers
 * every retrieve of its type.
 * @param retrieves - plannedRetrieves().
 * @param templates - the prefetch templates of a service definition.
 * @returns a description of each uncovered retrieve (empty when all are covered).
 */
export function uncoveredRetrieves(
  retrieves: readonly PlannedRetrieve[],
  templates: Readonly<Record<string, string>>,
): string[] {
  const searches = Object.values(templates).map((template) => {
    const [path = '', query = ''] = template.split('?', 2);
    const code = new URLSearchParams(query.replace(/\+/g, '%2B')).get('code');
    return {
      type: path.split('/')[0] ?? '',
      codes: code === null ? undefined : new Set(code.split(',')),
      hasCategory: new URLSearchParams(query).has('category'),
    };
  });
  const problems: string[] = [];
  for (const retrieve of retrieves) {
    const own = searches.filter((s) => s.type === retrieve.type);
    // A search of every resource of the type (no code, no category filter) answers the retrieve.
    if (own.some((s) => s.codes === undefined && !s.hasCategory)) continue;
    const asked = new Set(own.flatMap((s) => [...(s.codes ?? [])]));
    const missing =
      retrieve.codes === undefined
        ? ['(every resource of the type)']
        : [...retrieve.codes].filter((c) => !asked.has(c));
    if (own.length === 0 || missing.length > 0)
      problems.push(
        `${retrieve.library}: a ${retrieve.type} retrieve is not covered (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`,
      );
  }
  return [...new Set(problems)];
}
