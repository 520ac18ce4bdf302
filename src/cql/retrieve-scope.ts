/**
 * What the CQL libraries can read of a patient's record, worked out once from the ELM: which
 * resource types any retrieve asks for and, for a type whose every retrieve filters by a value
 * set, the codes those value sets hold. A resource no retrieve can return is left out before the
 * record crosses to an evaluation worker (less to copy, parse and index there); the engine's own
 * retrieve filter (indexed-patient-source.ts) then sees exactly the resources it would have
 * returned from the whole record, so no result changes.
 */
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4.js';
import type { ElmLibrary, ElmLibrarySet } from './elm-library-set.js';
import { codingKeys } from './coding-keys.js';
import type { ValueSetExpansions } from './value-sets.js';

export const FHIR_TYPE = /^\{http:\/\/hl7\.org\/fhir\}(.+)$/;

/** What the retrieves of one resource type can match. */
interface TypeScope {
  /** `undefined`: some retrieve of the type has no code filter the scope understands (keep all). */
  readonly byProperty: Map<string, Set<string>> | undefined;
}

export interface RetrieveNode {
  readonly type: 'Retrieve';
  readonly dataType?: string;
  readonly codeProperty?: string;
  readonly codes?: {
    readonly type?: string;
    readonly name?: string;
    readonly libraryName?: string;
  };
}

function isRetrieve(value: unknown): value is RetrieveNode {
  return (value as { type?: unknown }).type === 'Retrieve';
}

/** retrievesOf's answers by library: the fetch plan, the types check and the scope all ask. */
const retrievesByLibrary = new WeakMap<object, readonly RetrieveNode[]>();

/** Every Retrieve node of an ELM library (iterative; ELM nests deeply), walked once per library. */
export function retrievesOf(elm: ElmLibrary): readonly RetrieveNode[] {
  const known = retrievesByLibrary.get(elm.library);
  if (known !== undefined) return known;
  const found: RetrieveNode[] = [];
  const stack: unknown[] = [elm.library];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const child of node) stack.push(child);
      continue;
    }
    if (isRetrieve(node)) found.push(node);
    for (const child of Object.values(node)) stack.push(child);
  }
  retrievesByLibrary.set(elm.library, found);
  return found;
}

interface IncludeDefs {
  readonly includes?: { readonly def?: readonly { localIdentifier: string; path: string }[] };
}

/** The URL of a ValueSetRef made in `elm`, following an include alias. */
export function valueSetUrl(
  elms: ElmLibrarySet,
  elm: ElmLibrary,
  ref: { readonly name?: string; readonly libraryName?: string },
): string | undefined {
  let owner = elm;
  if (ref.libraryName !== undefined) {
    const include = (elm.library as IncludeDefs).includes?.def?.find(
      (d) => d.localIdentifier === ref.libraryName,
    );
    if (include === undefined) return undefined;
    owner = elms.get(include.path);
  }
  return owner.library.valueSets?.def?.find((d) => d.name === ref.name)?.id;
}

export class RetrieveScope {
  private constructor(private readonly byType: ReadonlyMap<string, TypeScope>) {}

  /**
   * @param elms - every library the engine runs.
   * @param valueSets - the expansions the engine runs with (site codes included).
   */
  static fromElm(elms: ElmLibrarySet, valueSets: ValueSetExpansions): RetrieveScope {
    const types = new Map<string, TypeScope>();
    for (const elm of Object.values(elms.all())) {
      for (const retrieve of retrievesOf(elm)) {
        const type = FHIR_TYPE.exec(retrieve.dataType ?? '')?.[1];
        // A retrieve of a model this scope does not know: keep every resource of every type.
        if (type === undefined)
          return new RetrieveScope(new Map([['*', { byProperty: undefined }]]));
        const current = types.get(type) ?? { byProperty: new Map<string, Set<string>>() };
        types.set(type, current);
        if (current.byProperty === undefined) continue;
        const url =
          retrieve.codes?.type === 'ValueSetRef' && retrieve.codeProperty !== undefined
            ? valueSetUrl(elms, elm, retrieve.codes)
            : undefined;
        const expansion = url === undefined ? undefined : Object.values(valueSets[url] ?? {})[0];
        if (expansion === undefined || retrieve.codeProperty === undefined) {
          types.set(type, { byProperty: undefined });
          continue;
        }
        let keys = current.byProperty.get(retrieve.codeProperty);
        if (keys === undefined) {
          keys = new Set();
          current.byProperty.set(retrieve.codeProperty, keys);
        }
        for (const { system, code } of expansion) keys.add(`${system}|${code}`);
      }
    }
    return new RetrieveScope(types);
  }

  /**
   * Every resource type some retrieve names, and the Patient; undefined when a retrieve of another
   * model makes every type readable.
   */
  get types(): readonly string[] | undefined {
    if (this.byType.has('*')) return undefined;
    return [...new Set(['Patient', ...this.byType.keys()])].sort();
  }

  /**
   * The engine's `reads` (EligibilityEngine.reads): keeps(), carrying the types it can keep, so
   * that record readers take exactly the types the retrieves need (issue 16 item 3).
   */
  reader(): ((resource: FhirResource) => boolean) & { readonly types?: readonly string[] } {
    const types = this.types;
    return Object.assign((resource: FhirResource) => this.keeps(resource), types ? { types } : {});
  }

  /** Whether some retrieve may return the resource (the Patient always stays). */
  keeps(resource: FhirResource): boolean {
    if (resource.resourceType === 'Patient' || this.byType.has('*')) return true;
    const scope = this.byType.get(resource.resourceType);
    if (scope === undefined) return false;
    if (scope.byProperty === undefined) return true;
    for (const [property, keys] of scope.byProperty) {
      const own = codingKeys((resource as unknown as Record<string, unknown>)[property]);
      if (own === undefined || own.some((key) => keys.has(key))) return true;
    }
    return false;
  }

  /** The bundle with only the entries some retrieve may return (the same bundle when all are). */
  narrow(bundle: Bundle): Bundle {
    const entries = bundle.entry ?? [];
    const kept: BundleEntry[] = entries.filter(
      (e) => e.resource === undefined || this.keeps(e.resource),
    );
    return kept.length === entries.length ? bundle : { ...bundle, entry: kept };
  }
}
