/**
 * The cql-execution and cql-exec-fhir runtime the engine evaluates with: the library's own code,
 * with process-wide overrides that compute the same values faster. Every override lives in this
 * directory, one file per ELM family, and names its upstream counterpart (a file and function
 * under node_modules/cql-execution/lib/ or node_modules/cql-exec-fhir/lib/):
 *
 * | file                 | family                                   | upstream                                   |
 * |----------------------|------------------------------------------|--------------------------------------------|
 * | expressions.ts       | expression core: literals, references, queries, Property, execArgs | elm/expression.js, literal.js, reusable.js, query.js, structured.js, nullological.js |
 * | operators.ts         | logic, comparison, types, conditionals, strings, arithmetic, quantities | elm/logical.js, comparison.js, overloaded.js, type.js, conditional.js, string.js, arithmetic.js, quantity.js, instance.js |
 * | lists.ts             | lists and aggregates                      | elm/list.js, overloaded.js (Union), aggregate.js |
 * | list-value-keys.ts   | list value keys (Distinct, Union, Except…) | util/immutableUtil.js, elm/list.js         |
 * | retrieve.ts          | retrieve and terminology                  | elm/external.js, clinical.js, runtime/context.js |
 * | patient-source.ts    | data access: the patient source           | cql-exec-fhir lib/fhir.js (PatientSource, Patient.findRecords) |
 * | fhir-wrappers.ts     | FHIR wrappers                             | cql-exec-fhir lib/fhir.js (FHIRObject.get, getCode) |
 * | date-time.ts         | date/time                                 | datatypes/datetime.js (DateTime.parse, AbstractDate.add), elm/datetime.js (Now) |
 * | function-memo.ts     | function calls                            | elm/reusable.js (FunctionRef)              |
 *
 * The overrides were written against the exact versions in WRITTEN_FOR: `install()` refuses any
 * other, because each override copies the logic of the code it replaces. After an upgrade, compare
 * each override with its upstream counterpart, run the differential oracle (`npm test`,
 * test/engine/differential-oracle.int.test.ts, and `npm run oracle`), then update WRITTEN_FOR.
 *
 * `install()` is called by every process entry that evaluates CQL (src/main.ts, the engine worker,
 * the screen CLI, the scripts) before anything else; createEligibilityEngine calls it too, for
 * library users (it is idempotent). The FHIR wrappers' prototype is patched when the patient source
 * loads its first record: cql-exec-fhir 2.2.0 does not export FHIRObject.
 */
import { createRequire } from 'node:module';
import { ConfigurationError } from '../shared/errors.js';
import { cacheDateArithmetic, cacheDateTimeParsing } from './date-time.js';
import { installFunctionMemo } from './function-memo.js';
import { installNormalizedKeyCache } from './list-value-keys.js';

/** The library versions the overrides were written for (their package.json `version`). */
export const WRITTEN_FOR = { 'cql-execution': '3.3.2', 'cql-exec-fhir': '2.2.0' } as const;

export type LibraryVersions = Record<keyof typeof WRITTEN_FOR, string>;

/** The versions of cql-execution and cql-exec-fhir this process loads (their package.json). */
export function installedVersions(): LibraryVersions {
  const require = createRequire(import.meta.url);
  const versionOf = (name: string): string =>
    (require(`${name}/package.json`) as { version?: unknown }).version?.toString() ?? 'unknown';
  return {
    'cql-execution': versionOf('cql-execution'),
    'cql-exec-fhir': versionOf('cql-exec-fhir'),
  };
}

/**
 * Throws ConfigurationError naming both libraries' expected and found versions when either differs.
 * @param found - the versions loaded (default: installedVersions()).
 */
export function assertLibraryVersions(found: LibraryVersions = installedVersions()): void {
  const names = Object.keys(WRITTEN_FOR) as (keyof typeof WRITTEN_FOR)[];
  if (names.every((name) => found[name] === WRITTEN_FOR[name])) return;
  const list = (versions: LibraryVersions): string =>
    names.map((name) => `${name} ${versions[name]}`).join(' and ');
  throw new ConfigurationError(
    `src/cql-runtime was written for ${list(WRITTEN_FOR)}, but ${list(found)} are installed: ` +
      'install the pinned versions (npm ci), or compare every override in src/cql-runtime with ' +
      'its upstream counterpart, run the differential oracle (npm test, npm run oracle) and ' +
      'update WRITTEN_FOR',
  );
}

let installed = false;

/** Installs every override, once per process (later calls do nothing); checks the versions first. */
export function install(): void {
  if (installed) return;
  assertLibraryVersions();
  installFunctionMemo(); // with the expressions, operators, lists and retrieve (expressions.ts)
  installNormalizedKeyCache();
  cacheDateTimeParsing();
  cacheDateArithmetic();
  installed = true;
}

/** Whether install() has run in this process. */
export function isInstalled(): boolean {
  return installed;
}
