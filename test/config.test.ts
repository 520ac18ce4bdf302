import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { ConfigurationError } from '../src/shared/errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      logLevel: 'info',
      corsOrigins: ['https://sandbox.cds-hooks.org'],
      bodyLimit: '5mb',
      fhirTimeoutMs: 5000,
      fhirMaxPages: 10,
      demoFhir: true,
      siteCodes: [],
      keepAliveTimeoutMs: 65000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses every variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const map = join(dir, 'site.json');
    writeFileSync(
      map,
      JSON.stringify([
        {
          from: { system: 'urn:oid:1.2', code: '99' },
          to: { system: 'urn:cds-trial-matcher:code', code: 'SLEDAI-2K' },
        },
      ]),
    );
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      CORS_ORIGINS: 'https://a.example, http://localhost:8080',
      DEMO_FHIR: 'false',
      PUBLIC_BASE_URL: 'https://cds.example.org/',
      SITE_CODE_MAP: map,
      FHIR_MAX_PAGES: '3',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      corsOrigins: ['https://a.example', 'http://localhost:8080'],
      demoFhir: false,
      publicBaseUrl: 'https://cds.example.org',
      fhirMaxPages: 3,
    });
    expect(config.siteCodes).toHaveLength(1);
  });

  it.each([
    ['PORT', 'abc'],
    ['DEMO_FHIR', 'maybe'],
    ['CORS_ORIGINS', 'https://a.example/path'],
    ['BODY_LIMIT', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['SITE_CODE_MAP', '/nonexistent/site.json'],
  ])('rejects an invalid %s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigurationError);
  });

  describe('with CDS_TRUSTED_ISSUERS (issue 15)', () => {
    const issuersFile = (): string => {
      const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'issuers.json');
      writeFileSync(
        file,
        JSON.stringify([
          { iss: 'https://ehr.example.org', jwksUrl: 'https://ehr.example.org/jwks.json' },
        ]),
      );
      return file;
    };

    it('switches the demo FHIR server off unless DEMO_FHIR=true says otherwise', () => {
      const CDS_TRUSTED_ISSUERS = issuersFile();
      const PUBLIC_BASE_URL = 'https://cds.example.org';
      expect(loadConfig({ CDS_TRUSTED_ISSUERS, PUBLIC_BASE_URL }).demoFhir).toBe(false);
      expect(loadConfig({ CDS_TRUSTED_ISSUERS, PUBLIC_BASE_URL, DEMO_FHIR: 'true' }).demoFhir).toBe(
        true,
      );
      expect(loadConfig({ DEMO_FHIR: 'false' }).demoFhir).toBe(false);
    });

    it('requires PUBLIC_BASE_URL, naming it', () => {
      expect(() => loadConfig({ CDS_TRUSTED_ISSUERS: issuersFile() })).toThrow(
        /PUBLIC_BASE_URL is required when CDS_TRUSTED_ISSUERS is set/,
      );
    });
  });

  it('refuses a headers timeout above the request timeout', () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000', REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      /HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/,
    );
    expect(loadConfig({})).toMatchObject({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      maxConnections: 1000,
    });
  });
});
