// Date logic in CQL depends on the time zone: pin it for every test worker.
// Jest runs one test file per core (maxWorkers): a pool or CLI a test starts without saying its
// size gets one engine thread, not one per core, unless the run says so.
module.exports = async () => {
  process.env.TZ = 'UTC';
  process.env.ENGINE_WORKERS ??= '1';
  process.env.SCREEN_WORKERS ??= '1';
};
