import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElmLibrarySet } from '../cql/elm-library-set.js';
import {
  ValueSetFileSchema,
  buildValueSetExpansions,
  type SiteCodeMap,
  type ValueSetExpansions,
} from '../cql/value-sets.js';
import { parseOrThrow, readJsonFile } from '../shared/json-files.js';
import {
  fetchPlan,
  plannedRetrieves,
  type FetchKey,
  type PlannedRetrieve,
} from '../cql/fetch-plan.js';
import { checkRetrievedTypes } from '../cql/retrieved-types.js';
import { checkTrialDefinitions, loadTrials } from '../trials/trial-registry.js';
import type { Trial } from '../domain/trial.js';
import { createEligibilityEngine, type EligibilityEngine } from './eligibility-engine.js';

/** The project's `cql/` directory, wherever the code runs from (src/ with tsx, dist/ when built). */
export const DEFAULT_CQL_DIR = fileURLToPath(new URL('../../cql', import.meta.url));

export interface EngineOptions {
  /** Holds `elm/`, `trials/` and `valuesets.json`. */
  readonly cqlDir?: string;
  /** Local codes a site maps onto project codes (configuration). */
  readonly siteCodes?: SiteCodeMap;
}

/** What the engine is built from, read and cross-checked once. */
export interface EngineInputs {
  readonly elm: ElmLibrarySet;
  readonly trials: readonly Trial[];
  readonly valueSets: ValueSetExpansions;
  /** A digest of the rules: see rulesVersion. */
  readonly rulesVersion: string;
}

/**
 * The version of the rules a result comes from (issue 18): a digest (SHA-256, first 16 hex
 * digits) of the ELM libraries, the trial definitions, the value sets and the site code mapping,
 * each in a canonical order. Every card carries it, and the card ledger stores it, so a card can
 * be traced to the rules that made it. Two processes with the same files have the same version.
 * @param parts - the parsed inputs.
 */
export function rulesVersion(parts: {
  readonly elm: Readonly<Record<string, unknown>>;
  readonly trials: readonly unknown[];
  readonly valueSets: unknown;
  readonly siteCodes: unknown;
}): string {
  const hash = createHash('sha256');
  for (const id of Object.keys(parts.elm).sort())
    hash.update(`elm ${id}\n${JSON.stringify(parts.elm[id])}\n`);
  hash.update(`trials\n${JSON.stringify(parts.trials)}\n`);
  hash.update(`valuesets\n${JSON.stringify(parts.valueSets)}\n`);
  hash.update(`sitecodes\n${JSON.stringify(parts.siteCodes)}\n`);
  return `sha256:${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Loads and cross-checks everything the engine needs, once, at start-up: ELM, value sets and
 * trial definitions, and that every type a retrieve names reaches the engine (retrieved-types.ts).
 * Throws ConfigurationError when anything is missing or inconsistent.
 * @param options - where the CQL lives and the site code mapping.
 */
export function loadEngineInputs(options: EngineOptions = {}): EngineInputs {
  const cqlDir = options.cqlDir ?? DEFAULT_CQL_DIR;
  const elm = ElmLibrarySet.load(join(cqlDir, 'elm'));
  const trials = loadTrials(join(cqlDir, 'trials'));
  checkTrialDefinitions(trials, (library) => elm.definitionNames(library));
  const valueSetFile = parseOrThrow(
    ValueSetFileSchema,
    readJsonFile(join(cqlDir, 'valuesets.json'), 'value sets'),
    'cql/valuesets.json',
  );
  const valueSets = buildValueSetExpansions(
    valueSetFile,
    options.siteCodes ?? [],
    elm.valueSetUrls(),
  );
  checkRetrievedTypes(plannedRetrieves(elm, valueSets));
  const version = rulesVersion({
    elm: elm.all(),
    trials,
    valueSets: valueSetFile,
    siteCodes: options.siteCodes ?? [],
  });
  return { elm, trials, valueSets, rulesVersion: version };
}

/**
 * The fetch plan (fetch-plan.ts) the population reader searches by, from the same ELM and value
 * sets (with the site's codes) as the engine.
 * @param options - where the CQL lives and the site code mapping.
 */
export function loadFetchPlan(options: EngineOptions = {}): FetchKey[] {
  return loadRetrievesAndPlan(options).plan;
}

/** The engine's retrieves (with the site's codes) and the fetch plan from them. */
export function loadRetrievesAndPlan(options: EngineOptions = {}): {
  readonly retrieves: PlannedRetrieve[];
  readonly plan: FetchKey[];
} {
  const { elm, valueSets } = loadEngineInputs(options);
  const retrieves = plannedRetrieves(elm, valueSets);
  return { retrieves, plan: fetchPlan(retrieves) };
}

/**
 * The in-process eligibility engine (loadEngineInputs, then createEligibilityEngine).
 * @param options - where the CQL lives and the site code mapping.
 */
export function loadEligibilityEngine(options: EngineOptions = {}): EligibilityEngine {
  const { trials, elm, valueSets, rulesVersion: version } = loadEngineInputs(options);
  return createEligibilityEngine(trials, elm, valueSets, version);
}
