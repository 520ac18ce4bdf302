/**
 * Translates every `cql/*.cql` library to ELM JSON in `cql/elm/` with the official CQL-to-ELM
 * translator (@cqframework/cql). Exits non-zero, writing nothing, if any library has an error.
 *
 * Usage: `npm run cql:build` (write) or `npm run cql:check` (fail when the committed ELM is stale).
 */
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import {
  CqlCompilerOptions,
  CqlTranslator,
  LibraryManager,
  ModelManager,
  createLibrarySourceProvider,
  createModelInfoProvider,
  createUcumService,
  stringAsSource,
} from '@cqframework/cql/cql-to-elm';
import { SystemModelInfoProvider } from '@cqframework/cql/cql';
import ucumLhc from '@lhncbc/ucum-lhc';
import { ElmLibrarySet, type ElmLibrary } from '../src/cql/elm-library-set.js';
import { fetchPlan, plannedRetrieves, uncoveredRetrieves } from '../src/cql/fetch-plan.js';
import { ValueSetFileSchema, buildValueSetExpansions } from '../src/cql/value-sets.js';

const { UcumLhcUtils } = ucumLhc;

const cqlDir = resolve(
  process.argv.includes('--dir')
    ? (process.argv[process.argv.indexOf('--dir') + 1] ?? 'cql')
    : 'cql',
);
const elmDir = join(cqlDir, 'elm');
const checkOnly = process.argv.includes('--check');

const require = createRequire(import.meta.url);
const fhirModelInfoPath = require.resolve('cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml');
const fhirModelInfo = readFileSync(fhirModelInfoPath, 'utf8');

const sources = new Map<string, string>();
for (const file of readdirSync(cqlDir)
  .filter((f) => f.endsWith('.cql'))
  .sort()) {
  sources.set(file.slice(0, -'.cql'.length), readFileSync(join(cqlDir, file), 'utf8'));
}

const modelManager = new ModelManager();
modelManager.modelInfoLoader.registerModelInfoProvider(new SystemModelInfoProvider(), true);
modelManager.modelInfoLoader.registerModelInfoProvider(
  createModelInfoProvider((id, _system, version): unknown =>
    id === 'FHIR' && (version === null || version === '4.0.1')
      ? stringAsSource(fhirModelInfo)
      : null,
  ),
);
// The JS translator ships no UCUM service: give it one over ucum-lhc (the library cql-execution
// uses at run time), so unit literals are validated at build time exactly as they will be run.
const ucum = UcumLhcUtils.getInstance();
const ucumService: unknown = createUcumService(
  (value, from, to) => {
    const result = ucum.convertUnitTo(from, Number(value), to);
    if (result.status !== 'succeeded' || result.toVal === undefined) {
      throw new Error(`cannot convert ${from} to ${to}`);
    }
    return String(result.toVal);
  },
  (unit) => {
    const result = ucum.validateUnitString(unit);
    return result.status === 'valid' ? null : `Invalid UCUM unit '${unit}'`;
  },
  () => {
    throw new Error('unit multiplication is not folded at build time');
  },
  () => {
    throw new Error('unit division is not folded at build time');
  },
);
// The translator's defaults less EnableAnnotations: the CQL source narrative copied into the ELM
// is for authoring tools, nothing here reads it, and it made 85 % of the ELM's bytes, parsed by
// every process and engine worker at start-up. Locators stay: errors name the CQL line.
const compilerOptions = CqlCompilerOptions.defaultOptions();
compilerOptions.options.asJsSetView().delete(CqlCompilerOptions.Options.EnableAnnotations);
const libraryManager = new LibraryManager(modelManager, compilerOptions, null, ucumService);
libraryManager.librarySourceLoader.registerProvider(
  createLibrarySourceProvider((id): unknown => {
    const cql = sources.get(id);
    return cql === undefined ? null : stringAsSource(cql);
  }),
);

let failed = false;
let stale = 0;
const outputs = new Map<string, string>();
for (const [name, cql] of sources) {
  const translator = CqlTranslator.fromText(cql, libraryManager);
  const errors = translator.errors.asJsReadonlyArrayView();
  for (const error of errors) {
    // The Kotlin/JS TrackBack exposes its position only through toString().
    const trackBack = String(error.locator ?? '');
    const where = /startLine=(\d+), startChar=(\d+)/.exec(trackBack)?.slice(1).join(':') ?? '?';
    console.error(`${name}.cql:${where}: ${error.message}`);
  }
  if (errors.length > 0) {
    failed = true;
    continue;
  }
  const elm = JSON.parse(translator.toJson()) as { library: { identifier: { id: string } } };
  if (elm.library.identifier.id !== name) {
    console.error(
      `${name}.cql: library id '${elm.library.identifier.id}' must match the file name`,
    );
    failed = true;
    continue;
  }
  outputs.set(name, `${JSON.stringify(elm, null, 2)}\n`);
}

if (failed) {
  console.error('CQL translation failed: no ELM written.');
  process.exit(1);
}
if (!existsSync(elmDir)) mkdirSync(elmDir, { recursive: true });
const known = new Set([...outputs.keys()].map((n) => `${n}.json`));
for (const file of readdirSync(elmDir).filter((f) => f.endsWith('.json'))) {
  if (!known.has(file)) {
    console.error(`cql/elm/${file} has no CQL source`);
    stale++;
  }
}
for (const [name, json] of outputs) {
  const target = join(elmDir, `${name}.json`);
  const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (current === json) continue;
  if (checkOnly) {
    console.error(`cql/elm/${name}.json is stale: run npm run cql:build`);
    stale++;
  } else {
    writeFileSync(target, json);
    console.log(`wrote cql/elm/${name}.json`);
  }
}

// The prefetch templates of every service are generated from the ELM's retrieves (fetch-plan.ts).
const hooksDir = resolve(cqlDir, '..', 'hooks');
const libraries = ElmLibrarySet.of(
  new Map([...outputs].map(([name, json]) => [name, JSON.parse(json) as ElmLibrary])),
);
const valueSets = buildValueSetExpansions(
  ValueSetFileSchema.parse(JSON.parse(readFileSync(join(cqlDir, 'valuesets.json'), 'utf8'))),
  [],
  libraries.valueSetUrls(),
);
const retrieves = plannedRetrieves(libraries, valueSets);
const plan = fetchPlan(retrieves);
for (const file of existsSync(hooksDir)
  ? readdirSync(hooksDir).filter((f) => f.endsWith('.json'))
  : []) {
  const target = join(hooksDir, file);
  const current = readFileSync(target, 'utf8');
  const service = JSON.parse(current) as Record<string, unknown>;
  const generated: Record<string, unknown> = {};
  // Keys in the file's order: prefetch, usageRequirements, optionalPrefetch where they were.
  for (const [key, value] of Object.entries(service)) {
    if (key === 'prefetch')
      generated.prefetch = Object.fromEntries(plan.map((k) => [k.key, k.template]));
    else if (key === 'optionalPrefetch')
      generated.optionalPrefetch = plan.filter((k) => k.optional).map((k) => k.key);
    else generated[key] = value;
  }
  const uncovered = uncoveredRetrieves(
    retrieves,
    (generated.prefetch ?? {}) as Record<string, string>,
  );
  for (const problem of uncovered) console.error(`hooks/${file}: ${problem}`);
  if (uncovered.length > 0) stale++;
  const json = `${JSON.stringify(generated, null, 2)}\n`;
  if (json === current) continue;
  if (checkOnly) {
    console.error(`hooks/${file}: the prefetch templates are stale: run npm run cql:build`);
    stale++;
  } else {
    writeFileSync(target, json);
    console.log(`wrote the prefetch templates of hooks/${file}`);
  }
}

if (stale > 0) process.exit(1);
console.log(`${String(outputs.size)} CQL libraries translated without errors.`);
