/**
 * The layers of src/ hold (issue 16 item 4): eslint rejects an import of a higher layer
 * (eslint.layers.config.js, applied by eslint.config.js), every module of src/ has a layer, and no
 * file of src/ imports itself through others (type-only imports included).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface LayersModule {
  readonly LAYERS: readonly (readonly string[])[];
  readonly layerRules: () => Linter.Config[];
}

async function loadLayers(): Promise<LayersModule> {
  return (await import(pathToFileURL(`${ROOT}eslint.layers.config.js`).href)) as LayersModule;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The import cycles among the files of src/ (relative imports, static or dynamic, types too). */
function importCycles(): string[] {
  const graph = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const targets = [
      ...text.matchAll(/\b(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g),
    ].map((match) => resolve(dirname(file), `${match[1] ?? ''}.ts`));
    graph.set(file, targets);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (state.get(target) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(target)), target];
        cycles.push(cycle.map((f) => relative(ROOT, f)).join(' -> '));
      } else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

/** Lints `code` as if it were the file `filePath` of src/, with the layer rules only. */
async function lintAs(filePath: string, code: string): Promise<Linter.LintMessage[]> {
  const { layerRules } = await loadLayers();
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
      ...layerRules(),
    ],
  });
  const [result] = await eslint.lintText(code, { filePath });
  return result?.messages ?? [];
}

describe('layers of src/', () => {
  it('rejects an upward import: the engine importing CDS Hooks', async () => {
    const messages = await lintAs(
      'src/engine/layer-fixture.ts',
      "import type { PatientViewContext } from '../cds-hooks/request.js';\nexport type X = PatientViewContext;\n",
    );
    expect(messages).toEqual([
      expect.objectContaining({
        ruleId: 'no-restricted-imports',
        message: expect.stringContaining('engine must not import cds-hooks') as unknown,
      }),
    ]);
  });

  it('rejects population importing the CLI, and fhir/ importing cds-hooks/', async () => {
    const population = await lintAs(
      'src/population/layer-fixture.ts',
      "export type { ScreenDeps } from '../cli/screen.js';\n",
    );
    expect(population.map((m) => m.ruleId)).toEqual(['no-restricted-imports']);
    const fhir = await lintAs(
      'src/fhir/layer-fixture.ts',
      "import { InvalidRequestError } from '../cds-hooks/errors.js';\nexport const E = InvalidRequestError;\n",
    );
    expect(fhir.map((m) => m.ruleId)).toEqual(['no-restricted-imports']);
  });

  it('rejects a lower layer importing a top-level module (config.ts)', async () => {
    const messages = await lintAs(
      'src/shared/layer-fixture.ts',
      "import type { Config } from '../config.js';\nexport type X = Config;\n",
    );
    expect(messages.map((m) => m.ruleId)).toEqual(['no-restricted-imports']);
  });

  it('accepts imports of the same or lower layers', async () => {
    const messages = await lintAs(
      'src/cds-hooks/layer-fixture.ts',
      [
        "import { AppError } from '../shared/errors.js';",
        "import type { Trial } from '../domain/trial.js';",
        "import { createEligibilityEngine } from '../engine/eligibility-engine.js';",
        "import { renderCards } from '../cards/render-cards.js';",
        "import { CdsRequestSchema } from './request.js';",
        'export const all = [AppError, createEligibilityEngine, renderCards, CdsRequestSchema];',
        'export type T = Trial;',
        '',
      ].join('\n'),
    );
    expect(messages).toEqual([]);
  });

  it('gives every directory and top-level module of src/ a layer', async () => {
    const { LAYERS } = await loadLayers();
    const named = new Set(LAYERS.flat());
    const modules = readdirSync(`${ROOT}src`).map((entry) => entry.replace(/\.ts$/, ''));
    expect(modules.filter((name) => !named.has(name))).toEqual([]);
  });

  it('has no import cycle among the files of src/ (e.g. html-report <-> report-writers)', () => {
    expect(importCycles()).toEqual([]);
  });

  it('is applied by eslint.config.js to src/', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const config = (await eslint.calculateConfigForFile(
      'src/engine/eligibility-engine.ts',
    )) as Linter.Config;
    expect(config.rules?.['no-restricted-imports']).toBeDefined();
  });
});
