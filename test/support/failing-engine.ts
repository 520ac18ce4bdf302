/** An eligibility engine with one criterion whose CQL throws, for tests of evaluation errors. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EligibilityEngine } from '../../src/engine/eligibility-engine.js';
import { DEFAULT_CQL_DIR, loadEligibilityEngine } from '../../src/engine/load-engine.js';

/**
 * An engine whose NCT06513429 "WeightAtLeast40Kg" throws when evaluated: what a value the CQL
 * cannot take does, whatever normalisation misses.
 */
export function engineWithFailingWeightCriterion(): EligibilityEngine {
  const cqlDir = mkdtempSync(join(tmpdir(), 'cql-failing-'));
  cpSync(DEFAULT_CQL_DIR, cqlDir, { recursive: true });
  const file = join(cqlDir, 'elm', 'NCT06513429.json');
  const elm = JSON.parse(readFileSync(file, 'utf8')) as {
    library: { statements: { def: { name: string; expression: unknown }[] } };
  };
  const define = elm.library.statements.def.find((d) => d.name === 'WeightAtLeast40Kg');
  if (define === undefined) throw new Error('fixture: WeightAtLeast40Kg not found');
  // A call of a function that does not exist fails when evaluated.
  define.expression = { type: 'FunctionRef', name: 'NoSuchFunction', operand: [] };
  writeFileSync(file, JSON.stringify(elm));
  return loadEligibilityEngine({ cqlDir });
}
