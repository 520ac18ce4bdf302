/**
 * One process writing to a shared SQLite feedback database, as a service replica does: per round,
 * remember a card, then record feedback on it (a read, then a write). Prints a JSON line of counts
 * and the error codes met. Used by sqlite-feedback-store.test.ts (issue 15, item 4).
 *
 * `tsx test/support/sqlite-feedback-writer.ts <db file> <rounds> <tag>`: once its store is open it
 * prints `ready` and waits for a line on stdin, so that writers started together begin together.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SqliteFeedbackStore } from '../../src/feedback/sqlite-feedback-store.js';

const [path = '', roundsArg = '100', tag = 'w'] = process.argv.slice(2);
const store = new SqliteFeedbackStore(path);
const go = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await once(go, 'line');
go.close();
let ok = 0;
const errors: string[] = [];
for (let i = 0; i < Number(roundsArg); i++) {
  const card = randomUUID();
  try {
    await store.remember({
      serviceId: 's',
      hookInstance: `${tag}-${i}`,
      cards: [{ uuid: card, trialId: 'NCT06892145' }],
    });
    await store.record('s', [
      {
        card,
        outcome: 'accepted',
        acceptedSuggestions: [{ id: 'sugg-1' }],
        outcomeTimestamp: new Date().toISOString(),
      },
    ]);
    ok++;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    errors.push(typeof code === 'string' ? code : (error as Error).message);
  }
}
await store.close();
process.stdout.write(`${JSON.stringify({ ok, errors })}\n`);
