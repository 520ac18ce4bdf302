import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../shared/errors.js';
import { isCallableUrl, normalizeBase } from './urls.js';

/**
 * The CDS clients this service trusts ({@link https://cds-hooks.hl7.org/2.0/#trusting-cds-clients}):
 * a JSON file named by CDS_TRUSTED_ISSUERS, validated at start-up.
 *
 * ```json
 * [
 *   { "iss": "https://fhir.hospital.example/api/FHIR/R4",
 *     "jwksUrl": "https://fhir.hospital.example/api/epic/jwks",
 *     "fhirServers": ["https://fhir.hospital.example/api/FHIR/R4"] },
 *   { "iss": "https://sandbox.cds-hooks.org", "jwks": { "keys": [ ... ] } }
 * ]
 * ```
 */

const CallableUrlSchema = z
  .url({ protocol: /^https?$/ })
  .refine(isCallableUrl, { message: 'https (http only on localhost), without credentials' });

/** A public key of a JWK Set: private or symmetric key material is refused. */
const PublicJwkSchema = z
  .looseObject({
    kty: z.enum(['EC', 'RSA']),
    kid: z.string().min(1),
  })
  .refine((k) => !('d' in k) && !('k' in k) && !('p' in k), {
    message: 'a JWK Set here holds public keys only (no "d", "k" or "p")',
  });

export const TrustedIssuerSchema = z
  .strictObject({
    /** The exact `iss` of the client's JWTs. */
    iss: z.string().min(1).max(2048),
    /** Where the issuer publishes its JWK Set (also the one `jku` allowed without listing it). */
    jwksUrl: CallableUrlSchema.optional(),
    /** Or the JWK Set itself, shared out of band. */
    jwks: z.strictObject({ keys: z.array(PublicJwkSchema).min(1) }).optional(),
    /** Further JWK Set URLs the issuer may name in a JWT's `jku` header. */
    jku: z.array(CallableUrlSchema).optional(),
    /**
     * FHIR base URLs this issuer may name as `fhirServer` (a URL covers the paths below it).
     * Default: the `iss` itself when it is a URL (Epic's iss is each customer's FHIR endpoint).
     */
    fhirServers: z.array(CallableUrlSchema).optional(),
  })
  .refine((i) => (i.jwksUrl === undefined) !== (i.jwks === undefined), {
    message: 'give exactly one of "jwksUrl" and "jwks"',
  });

export const TrustedIssuersSchema = z
  .array(TrustedIssuerSchema)
  .min(1)
  .refine((list) => new Set(list.map((i) => i.iss)).size === list.length, {
    message: 'each "iss" may appear once',
  });

export interface TrustedIssuer {
  readonly iss: string;
  readonly jwksUrl?: string;
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  /** JWK Set URLs allowed in `jku`: jwksUrl and the listed ones. */
  readonly allowedJku: readonly string[];
  /** FHIR base URLs, normalised (no trailing slash). */
  readonly fhirServers: readonly string[];
}

/**
 * Validates the parsed file.
 * @param json - the file's content.
 * @throws ConfigurationError naming what is wrong.
 */
export function parseTrustedIssuers(
  json: unknown,
  source = 'CDS_TRUSTED_ISSUERS',
): TrustedIssuer[] {
  const parsed = TrustedIssuersSchema.safeParse(json);
  if (!parsed.success)
    throw new ConfigurationError(`${source} is invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data.map((i) => {
    const fhirServers = i.fhirServers ?? (isCallableUrl(i.iss) ? [i.iss] : []);
    return Object.freeze({
      iss: i.iss,
      ...(i.jwksUrl !== undefined ? { jwksUrl: i.jwksUrl } : {}),
      ...(i.jwks !== undefined ? { jwks: i.jwks } : {}),
      allowedJku: Object.freeze([
        ...new Set([...(i.jwksUrl !== undefined ? [i.jwksUrl] : []), ...(i.jku ?? [])]),
      ]),
      fhirServers: Object.freeze(fhirServers.map(normalizeBase)),
    });
  });
}

/**
 * Reads and validates the trusted issuers file.
 * @param path - the file CDS_TRUSTED_ISSUERS names.
 * @throws ConfigurationError when it cannot be read or is invalid.
 */
export function readTrustedIssuers(path: string): TrustedIssuer[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigurationError(
      `CDS_TRUSTED_ISSUERS: cannot read ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return parseTrustedIssuers(json, `CDS_TRUSTED_ISSUERS ${path}`);
}
