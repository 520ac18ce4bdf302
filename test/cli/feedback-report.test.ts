import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/feedback-report.js';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';

const HOOK = '99999999-9999-4999-8999-999999999999';
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function report(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  const err: string[] = [];
  const code = await main(
    argv,
    env,
    (t) => (out += t),
    (l) => err.push(l),
  );
  return { code, out, err: err.join('\n') };
}

describe('feedback:report', () => {
  let dir: string;
  let db: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'feedback-report-'));
    db = join(dir, 'feedback.sqlite');
    const store = new SqliteFeedbackStore(db);
    await store.remember({
      serviceId: 'trial-matcher',
      hookInstance: HOOK,
      cards: [1, 2, 3]
        .map((n) => ({ uuid: uuid(n), trialId: 'NCT06892145' }))
        .concat([{ uuid: uuid(4), trialId: 'NCT07339332' }]),
    });
    const reason = (code: string, display: string) => ({
      reason: { system: 'urn:cds-trial-matcher:override-reason', code, display },
    });
    await store.record('trial-matcher', [
      {
        card: uuid(1),
        outcome: 'accepted',
        acceptedSuggestions: [{ id: uuid(11) }],
        outcomeTimestamp: '2026-11-22T10:00:00Z',
      },
      {
        card: uuid(2),
        outcome: 'overridden',
        overrideReason: reason('patient-declined', 'Patient declined'),
        outcomeTimestamp: '2026-11-22T10:00:00Z',
      },
      { card: uuid(3), outcome: 'overridden', outcomeTimestamp: '2026-11-22T10:00:00Z' },
    ]);
    await store.close();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints shown, accepted and overridden by reason per trial as a table', async () => {
    const result = await report(['--db', db]);
    expect(result.code).toBe(0);
    expect(result.out).toBe(
      [
        'trial             shown  accepted  overridden  accept rate',
        '----------------------------------------------------------',
        'NCT06892145           3         1           2          33%',
        '    overridden: Patient declined (1)',
        '    overridden: no reason given (1)',
        'NCT07339332           1         0           0            -',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON, finding the database through FEEDBACK_DB_PATH', async () => {
    const result = await report(['--format', 'json'], { FEEDBACK_DB_PATH: db });
    expect(JSON.parse(result.out)).toEqual({
      trials: [
        {
          trialId: 'NCT06892145',
          shown: 3,
          accepted: 1,
          overridden: 2,
          overriddenByReason: [
            { reason: 'Patient declined', count: 1 },
            { reason: 'no reason given', count: 1 },
          ],
        },
        { trialId: 'NCT07339332', shown: 1, accepted: 0, overridden: 0, overriddenByReason: [] },
      ],
    });
  });

  it('lists the rules versions of the cards answered per trial (issue 18)', async () => {
    const store = new SqliteFeedbackStore(db);
    await store.remember({
      serviceId: 'trial-matcher',
      hookInstance: HOOK,
      cards: [{ uuid: uuid(5), trialId: 'NCT07339332', rulesVersion: 'sha256:0123456789abcdef' }],
    });
    await store.record('trial-matcher', [
      {
        card: uuid(5),
        outcome: 'accepted',
        acceptedSuggestions: [{ id: uuid(15) }],
        outcomeTimestamp: '2026-11-22T11:00:00Z',
      },
    ]);
    await store.close();
    const table = await report(['--db', db]);
    expect(table.out).toContain(
      'NCT07339332           2         1           0         100%\n    rules versions: sha256:0123456789abcdef\n',
    );
    const json = JSON.parse((await report(['--db', db, '--format', 'json'])).out) as {
      trials: { trialId: string; rulesVersions?: string[] }[];
    };
    expect(json.trials.find((t) => t.trialId === 'NCT07339332')?.rulesVersions).toEqual([
      'sha256:0123456789abcdef',
    ]);
  });

  it('names the variable of a configuration error, as the service does', async () => {
    const result = await report([], { DATABASE_URL: 'mysql://u:secret@db/x' });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^feedback:report: invalid configuration: DATABASE_URL: /);
    expect(result.err).not.toContain('secret');
  });

  it('exits 2 for a missing database or bad arguments', async () => {
    expect(await report(['--db', join(dir, 'none.sqlite')])).toMatchObject({
      code: 2,
      err: expect.stringContaining('no feedback database'),
    });
    expect((await report(['--db', db, '--format', 'csv'])).code).toBe(2);
    expect((await report(['--db'])).code).toBe(2);
    expect((await report(['--verbose'])).code).toBe(2);
  });
});
