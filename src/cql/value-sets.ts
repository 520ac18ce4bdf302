import { z } from 'zod';
import { ConfigurationError } from '../shared/errors.js';

export const CodingSchema = z
  .object({ system: z.string().min(1), code: z.string().min(1), display: z.string().optional() })
  .strict();

/** `cql/valuesets.json`: the expansion of every value set the CQL libraries name. */
export const ValueSetFileSchema = z.record(
  z.string().min(1),
  z.object({ title: z.string().min(1), codes: z.array(CodingSchema).min(1) }).strict(),
);

/**
 * Site code mapping: local codes (an EHR flowsheet row, a local lab code) that mean a project
 * code, e.g. `{ "from": { "system": "urn:oid:1.2.840.114350...", "code": "1234" }, "to": "SLEDAI-2K" }`.
 * A local code joins every value set that holds the project code it maps to.
 */
export const SiteCodeMapSchema = z.array(
  z
    .object({
      from: z.object({ system: z.string().min(1), code: z.string().min(1) }).strict(),
      to: z.object({ system: z.string().min(1), code: z.string().min(1) }).strict(),
    })
    .strict(),
);

export type Coding = z.infer<typeof CodingSchema>;
export type ValueSetFile = z.infer<typeof ValueSetFileSchema>;
export type SiteCodeMap = z.infer<typeof SiteCodeMapSchema>;

/** cql-execution's CodeService input: url -> version -> codes. */
export type ValueSetExpansions = Record<string, Record<string, { code: string; system: string }[]>>;

/**
 * Builds the value set expansions the engine runs with.
 * @param file - the parsed `cql/valuesets.json`.
 * @param siteCodes - the site code mapping from configuration.
 * @param required - value set URLs the ELM names: each must be expanded here.
 */
export function buildValueSetExpansions(
  file: ValueSetFile,
  siteCodes: SiteCodeMap,
  required: ReadonlySet<string>,
): ValueSetExpansions {
  const missing = [...required].filter((url) => !(url in file));
  if (missing.length > 0)
    throw new ConfigurationError(`value sets without an expansion: ${missing.join(', ')}`);
  const expansions: ValueSetExpansions = {};
  for (const [url, vs] of Object.entries(file)) {
    const codes = vs.codes.map(({ system, code }) => ({ system, code }));
    for (const mapping of siteCodes) {
      if (codes.some((c) => c.system === mapping.to.system && c.code === mapping.to.code)) {
        codes.push({ system: mapping.from.system, code: mapping.from.code });
      }
    }
    expansions[url] = { '1.0.0': codes };
  }
  return expansions;
}
