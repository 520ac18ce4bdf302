/** @type {import('jest').Config} */
export default {
  // TypeScript to ESM with SWC: no type check here (`npm run typecheck` does it), a few ms a file.
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.cjs',
  // cql-exec-fhir requires './modelInfos/fhir-modelinfo-4.0.1.xml.js': keep that one as it is.
  moduleNameMapper: { '^(\\.{1,2}/.*)(?<!\\.xml)\\.js$': '$1' },
  testTimeout: 30000,
  // One test file per core (jest's default, cores - 1, ran one file at a time on two cores).
  maxWorkers: '100%',
};
