/**
 * Issue 18: the trial definition's JSON Schema (cql/trial.schema.json) is generated from the zod
 * schema; this fails when the file is stale (run `npm run trials:schema`).
 */
import { readFileSync } from 'node:fs';
import { TRIAL_SCHEMA_FILE, trialJsonSchema } from '../../scripts/trial-schema.js';

describe('cql/trial.schema.json', () => {
  it('is what npm run trials:schema generates from src/domain/trial.ts (not stale)', async () => {
    expect(readFileSync(TRIAL_SCHEMA_FILE, 'utf8')).toBe(await trialJsonSchema());
  });

  it('describes a closed object with the required fields of a trial definition', () => {
    const schema = JSON.parse(readFileSync(TRIAL_SCHEMA_FILE, 'utf8')) as {
      type: string;
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(
      expect.arrayContaining([
        'id',
        'title',
        'shortTitle',
        'status',
        'library',
        'cohorts',
        'criteria',
      ]),
    );
    expect(Object.keys(schema.properties)).toContain('refreshedAt');
  });
});
