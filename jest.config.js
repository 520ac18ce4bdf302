import { createDefaultEsmPreset } from 'ts-jest';

/** @type {import('jest').Config} */
export default {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.cjs',
  // cql-exec-fhir requires './modelInfos/fhir-modelinfo-4.0.1.xml.js': keep that one as it is.
  moduleNameMapper: { '^(\\.{1,2}/.*)(?<!\\.xml)\\.js$': '$1' },
  testTimeout: 30000,
};
