// Date logic in CQL depends on the time zone: pin it for every test worker.
module.exports = async () => {
  process.env.TZ = 'UTC';
};
