import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync as read } from 'node:fs';
import { DEFAULT_HOOKS_DIR } from '../../src/config.js';
import {
  ServiceDefinitionSchema,
  discoveryDocument,
  loadServiceDefinitions,
  withFetchPlan,
} from '../../src/cds-hooks/service-definition.js';
import { SpecDiscoverySchema } from './spec-schemas.js';
import { fetchPlan, plannedRetrieves, uncoveredRetrieves } from '../../src/cql/fetch-plan.js';
import { loadEngineInputs, loadRetrievesAndPlan } from '../../src/engine/load-engine.js';

const inputs = loadEngineInputs();
const retrieves = plannedRetrieves(inputs.elm, inputs.valueSets);

const files = readdirSync(DEFAULT_HOOKS_DIR).filter((f) => f.endsWith('.json'));
const cqlSources = readdirSync(join(DEFAULT_HOOKS_DIR, '..', 'cql'))
  .filter((f) => f.endsWith('.cql'))
  .map((f) => read(join(DEFAULT_HOOKS_DIR, '..', 'cql', f), 'utf8'))
  .join('\n');

describe('hooks/*.json', () => {
  it('holds at least one service', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  describe.each(files)('%s', (file) => {
    const json = JSON.parse(readFileSync(join(DEFAULT_HOOKS_DIR, file), 'utf8')) as Record<
      string,
      unknown
    >;
    const service = ServiceDefinitionSchema.parse(json);
    const templates = Object.values(service.prefetch ?? {});

    it('is a valid service definition whose discovery entry follows the 2.0.1 text', () => {
      expect(service.id).toBe(file.replace(/\.json$/, ''));
      SpecDiscoverySchema.parse(discoveryDocument([service]));
    });

    it('uses only the prefetch tokens the spec allows', () => {
      for (const template of templates) {
        for (const [, token] of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g))
          expect(['context.patientId', 'context.userId', 'context.encounterId']).toContain(token);
      }
    });

    it('asks for Observations by code, never by category alone (issue 12: categories are not reliable; Epic needs code or category)', () => {
      const observations = templates.filter((t) => t.startsWith('Observation'));
      expect(observations.length).toBeGreaterThan(0);
      for (const t of observations) {
        expect(t).toMatch(/[?&]code=[^&]+/);
        expect(t).not.toMatch(/[?&]category=/);
      }
    });

    it('answers every retrieve of the ELM: each type, and each code of a coded Observation retrieve', () => {
      expect(uncoveredRetrieves(retrieves, service.prefetch ?? {})).toEqual([]);
    });

    it('names a retrieve whose code a template leaves out', () => {
      const prefetch = { ...service.prefetch };
      const key = Object.keys(prefetch).find((k) => prefetch[k]?.startsWith('Observation?'));
      prefetch[key as string] = (prefetch[key as string] ?? '').replace(
        'http://loinc.org|718-7,',
        '',
      );
      expect(uncoveredRetrieves(retrieves, prefetch).join('\n')).toMatch(
        /Observation retrieve is not covered \(http:\/\/loinc.org\|718-7/,
      );
    });

    it('uses the keys the fetch plan derives from the ELM, optional where the plan says so', () => {
      const plan = fetchPlan(retrieves);
      expect(service.prefetch).toEqual(Object.fromEntries(plan.map((k) => [k.key, k.template])));
      expect(service.optionalPrefetch).toEqual(plan.filter((k) => k.optional).map((k) => k.key));
    });

    it('asks for MedicationStatement and MedicationRequest, and the Patient', () => {
      expect(templates).toContain('Patient/{{context.patientId}}');
      expect(templates.some((t) => t.startsWith('MedicationStatement?'))).toBe(true);
      expect(templates.some((t) => t.startsWith('MedicationRequest?'))).toBe(true);
      expect(templates.some((t) => t.startsWith('Condition?'))).toBe(true);
    });

    it('covers every resource type the CQL libraries retrieve', () => {
      const retrieved = new Set(
        [...cqlSources.matchAll(/\[([A-Z][a-z][A-Za-z]*)\s*(:|\])/g)].map((m) => m[1]),
      );
      const fetched = new Set(templates.map((t) => /^[A-Za-z]+/.exec(t)?.[0]));
      for (const type of retrieved) expect(fetched).toContain(type);
    });
  });

  describe('withFetchPlan (a site code mapping)', () => {
    const services = loadServiceDefinitions(DEFAULT_HOOKS_DIR);

    it('keeps the checked-in templates when they answer every retrieve', () => {
      const { retrieves: own, plan } = loadRetrievesAndPlan();
      expect(withFetchPlan(services, own, plan)).toEqual(services);
    });

    it("asks for the site's mapped codes too", () => {
      const site = loadRetrievesAndPlan({
        siteCodes: [
          {
            from: { system: 'urn:oid:1.2.840.114350.1', code: 'HGB-LOCAL' },
            to: { system: 'http://loinc.org', code: '718-7' },
          },
        ],
      });
      const [service] = withFetchPlan(services, site.retrieves, site.plan);
      expect(Object.values(service?.prefetch ?? {}).join('&')).toContain(
        'urn:oid:1.2.840.114350.1|HGB-LOCAL',
      );
      expect(uncoveredRetrieves(site.retrieves, service?.prefetch ?? {})).toEqual([]);
    });
  });

  it('loads through loadServiceDefinitions', () => {
    expect(loadServiceDefinitions(DEFAULT_HOOKS_DIR).map((s) => s.id)).toEqual(
      files.map((f) => f.replace(/\.json$/, '')),
    );
  });
});
