import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';
import { CARD_A, feedbackStoreContract } from './feedback-store-contract.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

feedbackStoreContract('SqliteFeedbackStore', () => {
  let path = '';
  return {
    fresh: () => {
      const dir = mkdtempSync(join(tmpdir(), 'feedback-store-'));
      dirs.push(dir);
      path = join(dir, 'nested', 'feedback.sqlite');
      return Promise.resolve();
    },
    open: (options) => Promise.resolve(new SqliteFeedbackStore(path, options)),
    feedbackRows: () => {
      const raw = new Database(path, { readonly: true });
      try {
        return Promise.resolve(
          raw.prepare('SELECT * FROM feedback').all() as Record<string, unknown>[],
        );
      } finally {
        raw.close();
      }
    },
  };
});

describe('SqliteFeedbackStore on one file shared by processes', () => {
  // Issue 15, item 4: a deferred transaction read, then wrote: SQLITE_BUSY_SNAPSHOT at once (500).
  it('lets two processes write feedback on one file without an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedback-shared-'));
    dirs.push(dir);
    const path = join(dir, 'feedback.sqlite');
    await new SqliteFeedbackStore(path).close();
    // Both start at one moment, once loaded: a thousand rounds each overlap enough to fail before.
    const rounds = 1000;
    const children: ChildProcess[] = [];
    let ready = 0;
    const writer = (tag: string): Promise<{ ok: number; errors: string[] }> =>
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(process.cwd(), 'test/support/sqlite-feedback-writer.ts'),
            path,
            String(rounds),
            tag,
          ],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        children.push(child);
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.startsWith('ready\n')) {
            out = out.slice('ready\n'.length);
            // The writers' stores are open: let both go.
            if (++ready === 2) for (const c of children) c.stdin?.write('go\n');
          }
        });
        child.on('error', reject);
        child.on('exit', () => {
          // A writer that ends before the other is ready must not leave it waiting for "go".
          for (const c of children) c.stdin?.end();
          try {
            resolve(JSON.parse(out) as { ok: number; errors: string[] });
          } catch {
            reject(new Error(`writer ${tag} printed no result: ${out}`));
          }
        });
      });
    const results = await Promise.all([writer('a'), writer('b')]);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(results.map((r) => r.ok)).toEqual([rounds, rounds]);
    const raw = new Database(path, { readonly: true });
    expect(
      raw.prepare('SELECT count(*) AS n FROM feedback WHERE trial_id IS NOT NULL').get(),
    ).toEqual({
      n: 2 * rounds,
    });
    raw.close();
  }, 60_000);
});

describe('SqliteFeedbackStore migrations', () => {
  it('folds duplicate decisions of a version 1 database into one row, keeping the latest timestamp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedback-v1-'));
    dirs.push(dir);
    const path = join(dir, 'feedback.sqlite');
    const v1 = new Database(path);
    v1.exec(`
      CREATE TABLE issued_card (card_uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, trial_id TEXT NOT NULL,
        hook_instance TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX issued_card_expires_at ON issued_card (expires_at);
      CREATE TABLE card_shown (service_id TEXT NOT NULL, trial_id TEXT NOT NULL, day TEXT NOT NULL,
        shown INTEGER NOT NULL, PRIMARY KEY (service_id, trial_id, day)) WITHOUT ROWID;
      CREATE TABLE feedback (id INTEGER PRIMARY KEY, service_id TEXT NOT NULL, card_uuid TEXT NOT NULL,
        trial_id TEXT, hook_instance TEXT, outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
        reason_system TEXT, reason_code TEXT, reason_display TEXT, has_comment INTEGER NOT NULL DEFAULT 0,
        accepted_suggestions TEXT, outcome_timestamp TEXT NOT NULL, received_at TEXT NOT NULL,
        UNIQUE (service_id, card_uuid, outcome, outcome_timestamp));
      CREATE INDEX feedback_card ON feedback (service_id, card_uuid);
      INSERT INTO feedback (service_id, card_uuid, trial_id, outcome, accepted_suggestions, outcome_timestamp, received_at)
        VALUES ('s', '${CARD_A}', 'NCT06892145', 'accepted', '["sugg-1"]', '2026-11-22T10:00:00.000Z', 'x'),
               ('s', '${CARD_A}', 'NCT06892145', 'accepted', '["sugg-1"]', '2026-11-22T10:00:05.000Z', 'x'),
               ('s', '${CARD_A}', 'NCT06892145', 'overridden', NULL, '2026-11-22T10:00:02.000Z', 'x');
      PRAGMA user_version = 1;
    `);
    v1.close();
    const store = new SqliteFeedbackStore(path);
    expect((await store.report())[0]).toMatchObject({
      trialId: 'NCT06892145',
      accepted: 1,
      overridden: 0,
    });
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(
      raw.prepare('SELECT outcome, outcome_timestamp FROM feedback ORDER BY outcome').all(),
    ).toEqual([
      { outcome: 'accepted', outcome_timestamp: '2026-11-22T10:00:05.000Z' },
      { outcome: 'overridden', outcome_timestamp: '2026-11-22T10:00:02.000Z' },
    ]);
    raw.close();
  });
});
