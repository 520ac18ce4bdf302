import { join } from 'node:path';
import { ConfigurationError } from '../shared/errors.js';
import { listJsonFiles, readJsonFile } from '../shared/json-files.js';

/** ELM JSON as the translator writes it, reduced to what the project reads. */
export interface ElmLibrary {
  readonly library: {
    readonly identifier: { readonly id: string; readonly version?: string };
    readonly statements?: { readonly def?: readonly { readonly name: string }[] };
    readonly valueSets?: {
      readonly def?: readonly { readonly name: string; readonly id: string }[];
    };
  };
}

/** Every translated library of `cql/elm`, by library id. Loaded once at start-up. */
export class ElmLibrarySet {
  private constructor(private readonly libraries: ReadonlyMap<string, ElmLibrary>) {}

  /**
   * Reads every `*.json` in `dir`.
   * @param dir - the ELM directory (`cql/elm`).
   */
  static load(dir: string): ElmLibrarySet {
    const libraries = new Map<string, ElmLibrary>();
    for (const file of listJsonFiles(dir, 'the ELM directory')) {
      const elm = readJsonFile(join(dir, file), 'ELM') as ElmLibrary;
      const id = elm.library.identifier.id;
      if (`${id}.json` !== file) throw new ConfigurationError(`${file} holds library ${id}`);
      libraries.set(id, elm);
    }
    return new ElmLibrarySet(libraries);
  }

  /**
   * A set of libraries already read (the build script's fresh translation).
   * @param libraries - ELM by library id.
   */
  static of(libraries: ReadonlyMap<string, ElmLibrary>): ElmLibrarySet {
    return new ElmLibrarySet(libraries);
  }

  get(id: string): ElmLibrary {
    const elm = this.libraries.get(id);
    if (elm === undefined)
      throw new ConfigurationError(`no ELM for CQL library ${id} (run npm run cql:build)`);
    return elm;
  }

  /** All libraries, keyed by id, as cql-execution's Repository expects them. */
  all(): Record<string, ElmLibrary> {
    return Object.fromEntries(this.libraries);
  }

  definitionNames(id: string): ReadonlySet<string> {
    return new Set((this.get(id).library.statements?.def ?? []).map((d) => d.name));
  }

  /** Value set URLs referenced by any library. */
  valueSetUrls(): ReadonlySet<string> {
    const urls = new Set<string>();
    for (const elm of this.libraries.values()) {
      for (const vs of elm.library.valueSets?.def ?? []) urls.add(vs.id);
    }
    return urls;
  }
}
