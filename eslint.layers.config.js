/**
 * The layers of `src/` (issue 16 item 4), enforced with eslint's `no-restricted-imports`.
 *
 * Each directory (or top-level file) of `src/` belongs to one layer and may import only from its own
 * layer and the layers below it. An import that goes up (the engine reaching into CDS Hooks, `fhir/`
 * reaching into `cds-hooks/`, population reaching into the CLI) is a lint error.
 *
 * Lowest first:
 *   shared          helpers with no knowledge of the product (errors taxonomy, JSON files, text)
 *   domain          screening results and trial definitions: the contract everyone shares
 *   security, cql, trials
 *   cql-runtime, fhir
 *   engine          evaluates trials on a record; generic over the jobs its workers run
 *   cards, feedback
 *   cds-hooks       the CDS Hooks API: request, prefetch, the patient-view job
 *   http            express routes; the only place errors are mapped to HTTP statuses
 *   app, service, config, demo
 *   population      population screening (must not import the CLI)
 *   cli, main       process entries
 */

/** @type {readonly (readonly string[])[]} Directories and top-level modules of src/, lowest first. */
export const LAYERS = [
  ['shared', 'types'],
  ['domain'],
  ['security', 'cql', 'trials'],
  ['cql-runtime', 'fhir'],
  ['engine'],
  ['cards', 'feedback'],
  ['cds-hooks'],
  ['http'],
  ['app', 'service', 'config', 'demo'],
  ['population'],
  ['cli', 'main'],
];

/** Modules that are files at the top of src/ rather than directories. */
const TOP_LEVEL_FILES = new Set(['app', 'service', 'config', 'main']);

/** The `files` glob of a module of src/. */
function filesOf(name) {
  return TOP_LEVEL_FILES.has(name) ? [`src/${name}.ts`] : [`src/${name}/**/*.ts`];
}

/** A regex matching a relative import of the module `name` of src/ from anywhere in src/. */
function importOf(name) {
  return TOP_LEVEL_FILES.has(name)
    ? `^(\\./|(\\.\\./)+)${name}\\.js$`
    : `^(\\./|(\\.\\./)+)${name}/`;
}

/** The eslint config blocks: one per module, forbidding imports of every module above it. */
export function layerRules() {
  const blocks = [];
  LAYERS.forEach((layer, index) => {
    const above = LAYERS.slice(index + 1).flat();
    if (above.length === 0) return;
    for (const name of layer) {
      blocks.push({
        files: filesOf(name),
        rules: {
          'no-restricted-imports': [
            'error',
            {
              patterns: above.map((upper) => ({
                regex: importOf(upper),
                message: `layers: ${name} must not import ${upper} (a higher layer; see eslint.layers.config.js).`,
              })),
            },
          ],
        },
      });
    }
  });
  return blocks;
}
