/**
 * What `npm run build` ships (src/ compiled to dist/) holds no test-data generator and no dev tool
 * (issue 16 item 5): no module of src/ imports from test/ or scripts/, nor tsx; the engine pool
 * starts its worker from dist/ when built (engine-pool.ts spawnWorker).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every module specifier of a TypeScript source: static and dynamic imports, re-exports, requires. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const pattern of [
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire(?:\.resolve)?\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
  ])
    for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

const files = sources(join(ROOT, 'src'));

test('the sources are found', () => {
  expect(files.length).toBeGreaterThan(50);
  expect(specifiers("import { a } from './a.js';\nconst b = require('tsx/package.json');")).toEqual(
    ['./a.js', 'tsx/package.json'],
  );
});

test('no module of src/ imports from test/, scripts/ or tsx', () => {
  const offending = files.flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'))
      .filter((s) => /(^|\/)(test|scripts)\//.test(s) || s === 'tsx' || s.startsWith('tsx/'))
      .map((s) => `${relative(ROOT, file)}: ${s}`),
  );
  expect(offending).toEqual([]);
});

test('the synthetic population generator is test support, not part of src/', () => {
  expect(files.some((f) => f.includes('synthetic-population'))).toBe(false);
});
