/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access --
   cql-execution's internal module is untyped. */
import { createRequire } from 'node:module';
import { RESOURCE_IDENTITY } from '../cql/indexed-patient-source.js';

const require = createRequire(import.meta.url);
let installed = false;

/**
 * Remembers cql-execution's value key of each FHIR resource wrapper (process-wide, once).
 *
 * CQL `union`, `distinct`, `intersect` and `except` compare by value: cql-execution builds a
 * normalised key of every element, which for a FHIR resource means reading and converting every
 * element it holds (every date parsed, every nested object wrapped) and building an immutable map
 * of it, each time the resource takes part in such an operation. A resource wrapper's key depends only
 * on its FHIR JSON and type, which do not change while it lives (one patient), so it is computed once
 * per wrapper and reused. Other values (lists, tuples, dates, codes) are keyed as before.
 *
 * A top-level resource of the patient's bundle whose `Type/id` no other entry shares (marked by
 * IndexedPatientSource with RESOURCE_IDENTITY) is keyed by that identity and its wrapper type
 * alone: such a resource is equal to another value exactly when that value wraps the same JSON as
 * the same type (an equal value must have the same `id`, and no other entry has it). The key holds
 * a private object, so it can equal no key cql-execution builds for any other value.
 */
export function installNormalizedKeyCache(): void {
  if (installed) return;
  installed = true;
  // Load the package first: its modules depend on each other in the order of its index.
  require('cql-execution');
  const immutableUtil = require('cql-execution/lib/util/immutableUtil.js') as {
    toNormalizedKey: (value: unknown) => unknown;
  };
  const toNormalizedKey = immutableUtil.toNormalizedKey;
  const immutable = createRequire(require.resolve('cql-execution'))('immutable') as {
    Map: (entries: [unknown, unknown][]) => unknown;
  };
  const identityMark = Object.freeze({ resourceIdentity: true });
  const keys = new WeakMap<object, unknown>();
  // cql-execution calls it through the module's exports (`immutableUtil_1.toNormalizedKey`), and
  // so does its own recursion: replacing the export reaches every caller.
  immutableUtil.toNormalizedKey = (value: unknown): unknown => {
    if (
      value !== null &&
      typeof value === 'object' &&
      (value as any)._json !== undefined &&
      (value as any)._typeInfo !== undefined &&
      typeof (value as any)._typeHierarchy === 'function'
    ) {
      if (keys.has(value)) return keys.get(value);
      const identity = (value as any)[RESOURCE_IDENTITY];
      const key =
        typeof identity === 'string'
          ? immutable.Map([[identityMark, identity]])
          : toNormalizedKey(value);
      keys.set(value, key);
      return key;
    }
    return toNormalizedKey(value);
  };
}
