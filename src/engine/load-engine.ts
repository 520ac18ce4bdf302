import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElmLibrarySet } from '../cql/elm-library-set.js';
import {
  ValueSetFileSchema,
  buildValueSetExpansions,
  type SiteCodeMap,
} from '../cql/value-sets.js';
import { parseOrThrow, readJsonFile } from '../shared/json-files.js';
import { checkTrialDefinitions, loadTrials } from '../trials/trial-registry.js';
import { createEligibilityEngine, type EligibilityEngine } from './eligibility-engine.js';

/** The project's `cql/` directory, wherever the code runs from (src/ with tsx, dist/ when built). */
export const DEFAULT_CQL_DIR = fileURLToPath(new URL('../../cql', import.meta.url));

export interface EngineOptions {
  /** Holds `elm/`, `trials/` and `valuesets.json`. */
  readonly cqlDir?: string;
  /** Local codes a site maps onto project codes (configuration). */
  readonly siteCodes?: SiteCodeMap;
}

/**
 * Loads and cross-checks everything the engine needs, once, at start-up: ELM, value sets and
 * trial definitions. Throws ConfigurationError when anything is missing or inconsistent.
 * @param options - where the CQL lives and the site code mapping.
 */
export function loadEligibilityEngine(options: EngineOptions = {}): EligibilityEngine {
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
  return createEligibilityEngine(trials, elm, valueSets);
}
