import { basename, join } from 'node:path';
import { z } from 'zod';
import { ConfigurationError } from '../shared/errors.js';
import { listJsonFiles, parseOrThrow, readJsonFile } from '../shared/json-files.js';
import { uncoveredRetrieves, type FetchKey, type PlannedRetrieve } from '../cql/fetch-plan.js';

/**
 * A CDS service as defined in `hooks/<id>.json`: the discovery fields of CDS Hooks 2.0.1.
 * {@link https://cds-hooks.hl7.org/2.0/#response}
 */

/** Hooks this service implements; the request context is validated per hook. */
export const SUPPORTED_HOOKS = ['patient-view'] as const;

/**
 * Prefetch tokens the spec allows: `{{context.<root-level field>}}` and the user* shortcuts.
 * {@link https://cds-hooks.hl7.org/2.0/#prefetch-tokens}
 */
const PATIENT_VIEW_TOKENS = new Set([
  'context.patientId',
  'context.userId',
  'context.encounterId',
  'userPractitionerId',
  'userPractitionerRoleId',
  'userPatientId',
  'userRelatedPersonId',
]);

const PrefetchTemplateSchema = z
  .string()
  .min(1)
  .refine((t) => !/^https?:|^\//.test(t), 'a relative FHIR query (Type/id or Type?params)')
  .refine((t) => /^[A-Z][A-Za-z]+(\/|\?|$)/.test(t), 'starts with a FHIR resource type')
  .refine(
    (t) =>
      [...t.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].every((m) => PATIENT_VIEW_TOKENS.has(m[1] ?? '')),
    'uses only {{context.patientId}}, {{context.userId}}, {{context.encounterId}} or {{user...Id}} tokens',
  );

export const ServiceDefinitionSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'kebab-case'),
    hook: z.enum(SUPPORTED_HOOKS),
    title: z.string().min(1),
    description: z.string().min(1),
    prefetch: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), PrefetchTemplateSchema)
      .optional(),
    usageRequirements: z.string().min(1).optional(),
    /**
     * Private (not in discovery): prefetch keys whose fetch may fail without failing the call,
     * e.g. MedicationStatement, which Epic and Oracle Health do not expose in R4. Their data is
     * then treated as absent and the affected criteria come out "unknown".
     */
    optionalPrefetch: z.array(z.string()).optional(),
    /**
     * Private (not in discovery): keys of earlier versions of this definition (Observations by
     * category), used as sent when an EHR configured with them still sends them; never fetched.
     * A key of the current templates is not fetched either when a sent legacy key returns the
     * same resource type.
     */
    legacyPrefetch: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), PrefetchTemplateSchema)
      .optional(),
  })
  .strict()
  .refine(
    (s) => (s.optionalPrefetch ?? []).every((key) => s.prefetch !== undefined && key in s.prefetch),
    { message: 'every optionalPrefetch key is a prefetch key', path: ['optionalPrefetch'] },
  );

export type ServiceDefinition = z.infer<typeof ServiceDefinitionSchema>;

/**
 * Reads and validates every `hooks/*.json`, once at start-up.
 * @param dir - the hooks directory.
 * @throws ConfigurationError when a file is invalid, its id differs from its name, or there is none.
 */
export function loadServiceDefinitions(dir: string): ServiceDefinition[] {
  const files = listJsonFiles(dir, 'the hooks directory');
  if (files.length === 0) throw new ConfigurationError(`no service definitions in ${dir}`);
  return files.map((file) => {
    const service = parseOrThrow(
      ServiceDefinitionSchema,
      readJsonFile(join(dir, file), 'service definition'),
      `hooks/${file}`,
    );
    if (service.id !== basename(file, '.json'))
      throw new ConfigurationError(`hooks/${file}: id "${service.id}" must match the file name`);
    return service;
  });
}

export type DiscoveredService = Omit<ServiceDefinition, 'optionalPrefetch' | 'legacyPrefetch'>;

/** The discovery document: the definitions' spec fields, private fields left out. */
export function discoveryDocument(services: readonly ServiceDefinition[]): {
  services: DiscoveredService[];
} {
  return {
    services: services.map(
      ({ optionalPrefetch: _private, legacyPrefetch: _legacy, ...spec }) => spec,
    ),
  };
}

/**
 * The services with prefetch templates that answer every retrieve of the engine as this site runs
 * it: a site's code mapping (SITE_CODE_MAP) adds local codes to the value sets, which the
 * checked-in templates (generated without them) do not ask for. A service whose templates miss
 * any retrieve gets the fetch plan's templates; discovery then advertises them.
 * @param services - as loaded from hooks/.
 * @param retrieves - the engine's retrieves, with the site's codes (plannedRetrieves).
 * @param plan - the fetch plan from them (fetchPlan).
 */
export function withFetchPlan(
  services: readonly ServiceDefinition[],
  retrieves: readonly PlannedRetrieve[],
  plan: readonly FetchKey[],
): ServiceDefinition[] {
  return services.map((service) =>
    uncoveredRetrieves(retrieves, service.prefetch ?? {}).length === 0
      ? service
      : {
          ...service,
          prefetch: Object.fromEntries(plan.map((k) => [k.key, k.template])),
          optionalPrefetch: plan.filter((k) => k.optional).map((k) => k.key),
        },
  );
}
