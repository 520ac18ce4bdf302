/**
 * Which resource types each CQL definition reads, worked out once from the ELM: the retrieves in
 * its expression and in every expression and function it refers to, across included libraries.
 * A type read only in part (partial-record.ts) turns exactly the criteria that read it into
 * unknown (issue 12).
 */
import type { ElmLibrary, ElmLibrarySet } from './elm-library-set.js';
import { FHIR_TYPE } from './retrieve-scope.js';

interface ElmNode {
  readonly type?: string;
  readonly name?: string;
  readonly libraryName?: string;
  readonly dataType?: string;
}

interface ElmDef {
  readonly name: string;
  readonly expression?: unknown;
}

interface LibraryShape {
  readonly includes?: { readonly def?: readonly { localIdentifier: string; path: string }[] };
  readonly statements?: { readonly def?: readonly ElmDef[] };
}

export class DefinitionReads {
  /** `library|name` -> types; computed on first ask. */
  private readonly memo = new Map<string, ReadonlySet<string>>();

  constructor(private readonly elms: ElmLibrarySet) {}

  /**
   * The resource types a definition (or every overload of a function) reads.
   * @param library - the library id.
   * @param name - the definition's name.
   */
  typesRead(library: string, name: string): ReadonlySet<string> {
    return this.visit(library, name, new Set());
  }

  private visit(library: string, name: string, visiting: Set<string>): ReadonlySet<string> {
    const key = `${library}|${name}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    // A recursive reference adds nothing new (CQL forbids recursion; a guard all the same).
    if (visiting.has(key)) return new Set();
    visiting.add(key);
    const elm = this.elms.get(library);
    const shape = elm.library as unknown as LibraryShape;
    const types = new Set<string>();
    for (const def of shape.statements?.def ?? []) {
      if (def.name !== name) continue;
      this.collect(def.expression, elm, types, visiting);
      // A function's operands are not read here: the caller's arguments are, in its own walk.
    }
    visiting.delete(key);
    this.memo.set(key, types);
    return types;
  }

  private collect(root: unknown, elm: ElmLibrary, into: Set<string>, visiting: Set<string>): void {
    const stack: unknown[] = [root];
    while (stack.length > 0) {
      const node = stack.pop();
      if (typeof node !== 'object' || node === null) continue;
      if (Array.isArray(node)) {
        stack.push(...(node as unknown[]));
        continue;
      }
      const n = node as ElmNode;
      if (n.type === 'Retrieve') {
        const type = FHIR_TYPE.exec(n.dataType ?? '')?.[1];
        if (type !== undefined) into.add(type);
      } else if ((n.type === 'ExpressionRef' || n.type === 'FunctionRef') && n.name !== undefined) {
        const target = this.libraryOf(elm, n.libraryName);
        if (target !== undefined)
          for (const type of this.visit(target, n.name, visiting)) into.add(type);
      }
      stack.push(...(Object.values(node) as unknown[]));
    }
  }

  /** The library id an alias names from `elm` (itself without one). */
  private libraryOf(elm: ElmLibrary, alias: string | undefined): string | undefined {
    if (alias === undefined) return elm.library.identifier.id;
    return (elm.library as unknown as LibraryShape).includes?.def?.find(
      (d) => d.localIdentifier === alias,
    )?.path;
  }
}
