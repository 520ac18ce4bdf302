/**
 * The cql-execution runtime's install(): the library versions it was written for are checked, and
 * a second call changes nothing.
 */
import { createRequire } from 'node:module';
import {
  WRITTEN_FOR,
  assertLibraryVersions,
  install,
  installedVersions,
  isInstalled,
} from '../../src/cql-runtime/install.js';
import { ConfigurationError } from '../../src/shared/errors.js';

const require = createRequire(import.meta.url);

test('it was written for the pinned versions, which are the ones installed', () => {
  const pkg = require('../../package.json') as { dependencies: Record<string, string> };
  expect(pkg.dependencies['cql-execution']).toBe(WRITTEN_FOR['cql-execution']);
  expect(pkg.dependencies['cql-exec-fhir']).toBe(WRITTEN_FOR['cql-exec-fhir']);
  expect(installedVersions()).toEqual(WRITTEN_FOR);
  expect(() => {
    assertLibraryVersions();
  }).not.toThrow();
});

test.each([
  [{ 'cql-execution': '3.4.0', 'cql-exec-fhir': '2.2.0' }],
  [{ 'cql-execution': '3.3.2', 'cql-exec-fhir': '2.3.1' }],
])('another version of either library is refused, naming both (%o)', (found) => {
  expect(() => {
    assertLibraryVersions(found);
  }).toThrow(ConfigurationError);
  expect(() => {
    assertLibraryVersions(found);
  }).toThrow(
    new RegExp(
      `written for cql-execution 3\\.3\\.2 and cql-exec-fhir 2\\.2\\.0, but cql-execution ${found['cql-execution'].replaceAll('.', '\\.')} and cql-exec-fhir ${found['cql-exec-fhir'].replaceAll('.', '\\.')} are installed`,
    ),
  );
});

test('install is idempotent: the overrides are set once', () => {
  install();
  expect(isInstalled()).toBe(true);
  const logical = require('cql-execution/lib/elm/logical.js') as {
    And: { prototype: { execute: unknown } };
  };
  const and = logical.And.prototype.execute;
  expect(Object.prototype.hasOwnProperty.call(logical.And.prototype, 'execute')).toBe(true);
  install();
  expect(logical.And.prototype.execute).toBe(and);
});
