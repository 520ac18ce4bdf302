/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   cql-exec-fhir's records are untyped objects: this adapter is one of the two places that touch them. */
import type { Bundle } from 'fhir/r4.js';
import { createRequire } from 'node:module';
import { PatientSource } from 'cql-exec-fhir';
import type { PatientObject } from 'cql-execution';
import { forgetParsedDateTimes } from './date-time.js';
import { codingKeys } from '../cql/coding-keys.js';
import { createFastWrappers, type FastWrappers } from './fhir-wrappers.js';

interface CodeLike {
  readonly code?: string;
  readonly system?: string;
}

interface RetrieveDetailsLike {
  readonly codeProperty?: string;
  readonly codes?: readonly CodeLike[] | { readonly codes?: readonly CodeLike[] };
}

type FindRecords = (profile: string, details?: RetrieveDetailsLike) => any[];

/**
 * The resources of one type by the `system|code` keys of one code property: `byKey` lists, for each
 * key, the positions (ascending) of the resources with a coding of that key; `always` the positions
 * of those any code could match (no codings array, or a coding without a system).
 */
interface CodeIndex {
  readonly byKey: Map<string, number[]>;
  readonly always: number[];
}

interface ProfileSlot {
  readonly classInfo: any;
  /** The resources of the profile's type, in bundle order. */
  readonly raw: any[];
  /** Their wrappers, made when first returned (aligned with raw). */
  readonly wrapped: any[];
  /** Code indexes by code property, built on the first retrieve by that property. */
  readonly indexes: Map<string, CodeIndex>;
}

/**
 * On a wrapped top-level resource whose `Type/id` is unique in the patient's bundle: that
 * identity and the wrapper's type name (used by the engine's value keys, list-value-keys.ts).
 */
export const RESOURCE_IDENTITY = Symbol('cds-trial-matcher.resourceIdentity');

const require = createRequire(import.meta.url);
const MEMO = Symbol('cds-trial-matcher.memo');
/** Cheaper construction of cql-exec-fhir's wrappers (fhir-wrappers.ts), set on first load. */
let fastWrappers: FastWrappers | undefined;
const patchedPrototypes = new WeakSet<object>();
const patchedModelInfos = new WeakSet<object>();

/**
 * Makes cql-exec-fhir's wrappers remember what they compute (process-wide, once). Its `FHIRObject`
 * wraps a property on every access (a new wrapper object with one accessor per element of its FHIR
 * type, a FHIR date parsed into a CQL DateTime again...), `_typeHierarchy` rebuilds strings on every
 * type test, and `findClass` rewrites its argument on every call. The wrapped resources live for one
 * patient and the FHIR JSON is never changed during an evaluation (the engine's input is read-only),
 * so a property's value is the same every time it is read: it is computed once per wrapper.
 * Values handed to cql-execution are shared between reads; cql-execution treats them as immutable
 * values (its operators build new lists, DateTimes and Quantities). `getCode` (a retrieve's code
 * filter) reads plain Codings from their JSON (fhir-wrappers.ts).
 */
function memoizeFhirWrappers(record: any): void {
  let proto = Object.getPrototypeOf(record);
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, 'getCode'))
    proto = Object.getPrototypeOf(proto);
  if (proto !== null && !patchedPrototypes.has(proto)) {
    patchedPrototypes.add(proto);
    fastWrappers = createFastWrappers(proto);
    const get = fastWrappers.get;
    const settle = fastWrappers.settle;
    observeComparisons(fastWrappers);
    proto.getCode = fastWrappers.getCode;
    proto.get = function memoizedGet(this: any, field: string): any {
      let memo: Map<string, any> | undefined = this[MEMO];
      if (memo === undefined) {
        memo = new Map();
        Object.defineProperty(this, MEMO, { value: memo, enumerable: false });
      } else if (memo.has(field)) {
        const known = memo.get(field);
        settle(known);
        return known;
      }
      const value = get.call(this, field);
      memo.set(field, value);
      settle(value);
      return value;
    };
    const typeHierarchy = proto._typeHierarchy as (this: any) => any[];
    const hierarchies = new WeakMap<object, any[]>();
    proto._typeHierarchy = function memoizedTypeHierarchy(this: any): any[] {
      const typeInfo = this._typeInfo;
      if (typeInfo === null || typeof typeInfo !== 'object') return typeHierarchy.call(this);
      let hierarchy = hierarchies.get(typeInfo);
      if (hierarchy === undefined) {
        hierarchy = typeHierarchy.call(this);
        hierarchies.set(typeInfo, hierarchy);
      }
      return hierarchy;
    };
  }
  const modelInfo = record._modelInfo;
  if (modelInfo !== undefined && modelInfo !== null && !patchedModelInfos.has(modelInfo)) {
    patchedModelInfos.add(modelInfo);
    const findClass = modelInfo.findClass.bind(modelInfo) as (klass: string) => any;
    const classes = new Map<string, any>();
    modelInfo.findClass = (klass: string): any => {
      if (classes.has(klass)) return classes.get(klass);
      const found = findClass(klass);
      classes.set(klass, found);
      return found;
    };
  }
}

/**
 * cql-execution 3.3.2 compares objects by their own enumerable keys (`equals` and `equivalent` in
 * util/comparison.js, and the value keys of immutableUtil.js): wrappers that take part are first
 * given the library's own properties (fhir-wrappers.ts `observe`). The comparison module's
 * callers read `equals` and `equivalent` from its exports, so replacing them reaches every caller;
 * its internal recursion runs inside the observation.
 */
function observeComparisons(wrappers: FastWrappers): void {
  const comparison = require('cql-execution/lib/util/comparison.js') as Record<
    'equals' | 'equivalent',
    (a: unknown, b: unknown) => unknown
  >;
  for (const name of ['equals', 'equivalent'] as const) {
    const compare = comparison[name];
    // Two values that are not objects (strings, numbers, nulls: most comparisons) hold no wrapper.
    comparison[name] = (a: unknown, b: unknown): unknown =>
      (a === null || typeof a !== 'object') && (b === null || typeof b !== 'object')
        ? compare(a, b)
        : wrappers.observe([a, b], () => compare(a, b));
  }
}

/**
 * Runs `action`, a synchronous look at the own properties of `values` (a value key), with FHIR
 * wrappers in the library's shape (fhir-wrappers.ts).
 */
export function observeWrappers<T>(values: readonly unknown[], action: () => T): T {
  return fastWrappers === undefined ? action() : fastWrappers.observe(values, action);
}

/**
 * A cql-execution data provider for one patient at a time that does the expensive work once per
 * patient instead of once per retrieve:
 *  - cql-exec-fhir wraps every resource of a type on every retrieve; here each type is wrapped once
 *    and the wrapped records are reused by every retrieve of every trial library;
 *  - a retrieve by value set gets only the records whose raw `code.coding` can match it, so the
 *    engine's own (exact) code check runs on a handful of records, not on all of them; those are
 *    found from an index of the type's resources by `system|code`, built once per patient and code
 *    property (a 500-resource record had every Observation's codings checked on every retrieve).
 * Results are identical: the engine still applies its code filter to what is returned.
 */
export class IndexedPatientSource {
  private readonly source = PatientSource.FHIRv401({ requireProfileTagging: false });
  private patient: any;
  private started = false;
  /** The loaded bundle's resources by type, in bundle order. */
  private readonly byType = new Map<string, any[]>();
  /** Per retrieved profile: its class and the wrappers made so far (aligned with byType). */
  private readonly byProfile = new Map<string, ProfileSlot>();
  private readonly codeKeys = new WeakMap<object, ReadonlySet<string>>();
  /** `Type/id` of more than one entry of the loaded bundle. */
  private readonly sharedIdentities = new Set<string>();

  /** Loads one patient's normalised bundle; every later evaluation reads this patient. */
  load(bundle: Bundle): void {
    this.byProfile.clear();
    this.byType.clear();
    forgetParsedDateTimes();
    this.sharedIdentities.clear();
    const seen = new Set<string>();
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (resource === undefined) continue;
      const identity = `${resource.resourceType}/${resource.id}`;
      if (seen.has(identity)) this.sharedIdentities.add(identity);
      seen.add(identity);
      let list = this.byType.get(resource.resourceType);
      if (list === undefined) {
        list = [];
        this.byType.set(resource.resourceType, list);
      }
      list.push(resource);
    }
    this.source.reset();
    this.source.loadBundles([bundle]);
    const patient: any = this.source.currentPatient();
    if (patient === undefined) throw new Error('the bundle holds no Patient');
    memoizeFhirWrappers(patient);
    const findRecords: FindRecords = patient.findRecords.bind(patient);
    patient.findRecords = (profile: string, details?: RetrieveDetailsLike) =>
      this.find(findRecords, profile, details);
    this.patient = patient;
  }

  /** Starts an evaluation over the loaded patient (call before each Executor.exec). */
  rewind(): this {
    this.started = false;
    return this;
  }

  currentPatient(): PatientObject {
    this.started = true;
    return this.patient;
  }

  nextPatient(): any {
    if (!this.started) return this.currentPatient();
    return undefined;
  }

  /**
   * cql-exec-fhir's findRecords (without profile tagging): the resources of the profile's type in
   * bundle order, each wrapped as a FHIRObject of the profile's class. Here a resource is wrapped
   * only when a retrieve may return it (its raw codes can match), and once per patient.
   */
  private find(findRecords: FindRecords, profile: string, details?: RetrieveDetailsLike): any[] {
    const wrap = fastWrappers?.wrap;
    if (wrap === undefined) return findRecords(profile);
    let slot = this.byProfile.get(profile);
    if (slot === undefined) {
      const modelInfo = this.patient._modelInfo;
      const classInfo = modelInfo.findClass(profile);
      if (classInfo == null) return findRecords(profile);
      const raw = this.byType.get(String(classInfo.name).replace(/^FHIR\./, '')) ?? [];
      slot = { classInfo, raw, wrapped: new Array<any>(raw.length), indexes: new Map() };
      this.byProfile.set(profile, slot);
    }
    const keys = this.keysOf(details?.codes);
    const property = details?.codeProperty;
    const records: any[] = [];
    if (keys !== undefined && property !== undefined) {
      for (const i of candidates(indexOf(slot, property), keys))
        records.push(this.wrapped(slot, i));
    } else {
      for (let i = 0; i < slot.raw.length; i++) records.push(this.wrapped(slot, i));
    }
    return records;
  }

  private wrapped(slot: ProfileSlot, i: number): any {
    let record = slot.wrapped[i];
    if (record === undefined) {
      record = (fastWrappers as FastWrappers).wrap(
        slot.raw[i],
        slot.classInfo,
        this.patient._modelInfo,
      );
      this.markIdentity(record);
      slot.wrapped[i] = record;
    }
    return record;
  }

  private markIdentity(record: any): void {
    const json = record?._json;
    const typeName = record?._typeInfo?.name;
    if (typeof json?.id !== 'string' || typeof json.resourceType !== 'string') return;
    if (typeof typeName !== 'string') return;
    const identity = `${json.resourceType}/${json.id}`;
    if (this.sharedIdentities.has(identity)) return;
    Object.defineProperty(record, RESOURCE_IDENTITY, {
      value: `${identity}|${typeName}`,
      enumerable: false,
    });
  }

  private keysOf(codes: RetrieveDetailsLike['codes'] | null): ReadonlySet<string> | undefined {
    if (codes === undefined || codes === null) return undefined;
    const list = isCodeList(codes) ? codes : codes.codes;
    if (list === undefined) return undefined;
    let keys = this.codeKeys.get(codes);
    if (keys === undefined) {
      // A code without a system could match any system: leave such value sets to the engine.
      if (list.some((c) => typeof c.system !== 'string')) return undefined;
      keys = new Set(list.map((c) => `${String(c.system)}|${String(c.code)}`));
      this.codeKeys.set(codes, keys);
    }
    return keys;
  }
}

function isCodeList(
  codes: NonNullable<RetrieveDetailsLike['codes']>,
): codes is readonly CodeLike[] {
  return Array.isArray(codes);
}

/** The code index of a slot's resources by `property`, built once per patient. */
function indexOf(slot: ProfileSlot, property: string): CodeIndex {
  let index = slot.indexes.get(property);
  if (index === undefined) {
    index = { byKey: new Map(), always: [] };
    for (let i = 0; i < slot.raw.length; i++) addToIndex(index, i, slot.raw[i]?.[property]);
    slot.indexes.set(property, index);
  }
  return index;
}

/**
 * Files position `i` under the keys of a raw CodeableConcept's codings, or under `always` when
 * any code could match it (unknown shapes and codings without a system are left to the engine).
 */
function addToIndex(index: CodeIndex, i: number, concept: unknown): void {
  const keys = codingKeys(concept);
  if (keys === undefined) {
    index.always.push(i);
    return;
  }
  for (const key of keys) {
    let positions = index.byKey.get(key);
    if (positions === undefined) {
      positions = [];
      index.byKey.set(key, positions);
    }
    if (positions[positions.length - 1] !== i) positions.push(i);
  }
}

/**
 * The positions, ascending and once each, of the resources that could match one of `keys`: those
 * with a coding of one of the keys, and those any code could match. The same resources, in the same
 * order, as testing every resource's codings against the keys.
 */
function candidates(index: CodeIndex, keys: ReadonlySet<string>): number[] {
  let positions: number[] | undefined;
  let several = false;
  if (index.byKey.size < keys.size) {
    for (const [key, list] of index.byKey) {
      if (!keys.has(key)) continue;
      several = positions !== undefined;
      positions = several ? (positions as number[]).concat(list) : list;
    }
  } else {
    for (const key of keys) {
      const list = index.byKey.get(key);
      if (list === undefined) continue;
      several = positions !== undefined;
      positions = several ? (positions as number[]).concat(list) : list;
    }
  }
  if (index.always.length > 0) {
    positions = positions === undefined ? index.always : positions.concat(index.always);
    several = positions !== index.always;
  }
  if (positions === undefined) return [];
  if (!several) return positions;
  return [...new Set(positions)].sort((a, b) => a - b);
}
