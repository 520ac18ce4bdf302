/**
 * How a raw FHIR CodeableConcept is matched against code lists before the engine sees it: by the
 * `system|code` keys of its codings. Used where resources are left out (retrieve-scope.ts) and where
 * a retrieve's candidates are looked up (indexed-patient-source.ts), so both keep the same resources.
 */

/**
 * The `system|code` keys of a raw CodeableConcept's codings, or `undefined` when any code could
 * match it: a shape that is not a CodeableConcept with a `coding` array, or a coding without a
 * system, is left to the engine's own (exact) code check.
 * @param concept - the raw JSON value of a code property.
 */
export function codingKeys(concept: unknown): string[] | undefined {
  if (concept === null || typeof concept !== 'object') return undefined;
  const coding = (concept as { coding?: unknown }).coding;
  if (!Array.isArray(coding)) return undefined;
  const keys: string[] = [];
  for (const c of coding as unknown[]) {
    const { system, code } = (c ?? {}) as { system?: unknown; code?: unknown };
    if (typeof system !== 'string') return undefined;
    keys.push(`${system}|${String(code)}`);
  }
  return keys;
}
