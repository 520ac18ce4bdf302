// The engine worker started from src/ (npm run dev, the scripts, npm test): registers tsx's ESM
// loader in the worker thread (Node 20 does not carry the process's loader into threads), then
// imports the TypeScript entry. Never used in production: dist/engine/engine-pool.js starts
// dist/engine/engine-worker.js, and nothing under src/ resolves tsx.
import { parentPort } from 'node:worker_threads';

try {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../../src/engine/engine-worker.ts', import.meta.url).href);
} catch (error) {
  parentPort?.postMessage({
    type: 'failed',
    error: { name: String(error?.name), message: String(error?.message) },
  });
}
