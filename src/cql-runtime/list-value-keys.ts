import { createRequire } from 'node:module';
import { Date as CqlDate, DateTime } from 'cql-execution';
import { RESOURCE_IDENTITY, observeWrappers } from './patient-source.js';

const require = createRequire(import.meta.url);
let installed = false;

/** A value's own properties, as the keys read them (cql-execution's values are untyped). */
type Fields = Record<PropertyKey, unknown>;

/** Whether `value` is a FHIR resource wrapper (the test the key cache uses). */
function isWrapper(value: object): boolean {
  const wrapper = value as { _json?: unknown; _typeInfo?: unknown; _typeHierarchy?: unknown };
  return (
    wrapper._json !== undefined &&
    wrapper._typeInfo !== undefined &&
    typeof wrapper._typeHierarchy === 'function'
  );
}

/** The own fields of a DateTime or Date as `name=value` (numbers and nulls only), or undefined. */
function encodeFields(value: object): string | undefined {
  if (Object.getOwnPropertySymbols(value).length > 0) return undefined;
  const parts: string[] = [];
  for (const name of Object.keys(value).sort()) {
    const field = encodeValue((value as Fields)[name]);
    if (field === undefined || (field !== 'z' && field[0] !== 'n')) return undefined;
    parts.push(`${JSON.stringify(name)}=${field}`);
  }
  return parts.join(',');
}

/**
 * A string that two values share exactly when cql-execution 3.3.2's normalised keys of them are
 * equal (immutable.js `is`), for the values CQL distinct lists are made of here: null (and
 * undefined, keyed as null), strings, numbers (NaN equal to NaN, 0 to -0, as `is` compares them),
 * Booleans, lists of these, tuples of these (plain objects, compared as maps of their keys:
 * the order of the keys does not matter, a missing key differs from a null one), DateTimes and
 * Dates (their fields, a DateTime moved to offset 0 first, as the library keys it) and resource
 * wrappers keyed by their identity (toNormalizedKey below). Anything else is undefined: the caller
 * then uses cql-execution's own keys. Each kind has its own tag, as the library's keys of
 * different kinds never compare equal (a string is not a number, a tuple's key holds
 * `__instance: Object`, a DateTime's `__instance: DateTime`, an identity key only its mark).
 */
function encodeValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'z';
  switch (typeof value) {
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'number':
      return `n${String(value)}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'object':
      break;
    default:
      return undefined;
  }
  const type: unknown = value.constructor;
  if (type === Array) {
    const items: string[] = [];
    for (const item of value as unknown[]) {
      const key = encodeValue(item);
      if (key === undefined) return undefined;
      items.push(key);
    }
    return `[${items.join(',')}]`;
  }
  if (type === Object) {
    if (
      Object.getOwnPropertySymbols(value).length > 0 ||
      'length' in value ||
      '__instance' in value ||
      '_typeHierarchy' in value ||
      Symbol.iterator in value ||
      '@@iterator' in value
    )
      return undefined;
    const parts: string[] = [];
    for (const name of Object.keys(value).sort()) {
      const key = encodeValue((value as Fields)[name]);
      if (key === undefined) return undefined;
      parts.push(`${JSON.stringify(name)}:${key}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (type === DateTime) {
    const dateTime = value as DateTime;
    const offset: unknown = dateTime.timezoneOffset;
    const fields = encodeFields(
      typeof offset === 'number' && offset !== 0 ? dateTime.convertToTimezoneOffset(0) : value,
    );
    return fields === undefined ? undefined : `T(${fields})`;
  }
  if (type === CqlDate) {
    if ((value as Fields)._typeHierarchy !== undefined) return undefined;
    const fields = encodeFields(value);
    return fields === undefined ? undefined : `D(${fields})`;
  }
  if (isWrapper(value)) {
    const identity = (value as Fields)[RESOURCE_IDENTITY];
    return typeof identity === 'string' ? `r${JSON.stringify(identity)}` : undefined;
  }
  return undefined;
}

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
 *
 * Distinct lists: cql-execution 3.3.2's `toDistinctList` (list.js; used by `distinct`, `union`,
 * `except`, `intersect` and by every query without `return all`, which is most `where` queries)
 * builds an immutable.js key of every element and an immutable Set of them. It is replaced through
 * the module's exports (every caller reads it there) by the same algorithm over string keys when
 * every element has one (encodeValue: equal strings exactly when the library's keys are equal);
 * a list of one element is its own distinct list, and anything else goes to the library.
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
    if (value !== null && typeof value === 'object' && isWrapper(value)) {
      if (keys.has(value)) return keys.get(value);
      const identity = (value as Fields)[RESOURCE_IDENTITY];
      const key =
        typeof identity === 'string'
          ? immutable.Map([[identityMark, identity]])
          : observeWrappers([value], () => toNormalizedKey(value));
      keys.set(value, key);
      return key;
    }
    if (value === null || typeof value !== 'object') return toNormalizedKey(value);
    return observeWrappers([value], () => toNormalizedKey(value));
  };

  // Distinct lists (`distinct`, `union`, `except`, `intersect`, and every query without
  // `return all`, mostly a `where` over one or no element) without immutable.js when the elements
  // allow it: the first of each group of equal elements is kept, in order, as the library keeps it.
  const list = require('cql-execution/lib/elm/list.js') as {
    toDistinctList: (values: unknown[]) => unknown[];
  };
  const toDistinctList = list.toDistinctList;
  list.toDistinctList = (values: unknown[]): unknown[] => {
    if (values.length <= 1) return values.slice();
    const keys: string[] = [];
    for (const value of values) {
      const key = encodeValue(value);
      if (key === undefined) return toDistinctList(values);
      keys.push(key);
    }
    const seen = new Set<string>();
    const distinct: unknown[] = [];
    for (let i = 0; i < values.length; i++) {
      const key = keys[i] as string;
      if (!seen.has(key)) {
        seen.add(key);
        distinct.push(values[i]);
      }
    }
    return distinct;
  };
}
