import type { TrustedIssuer } from './trusted-issuers.js';
import { isCallableUrl, isUnderBase } from './urls.js';

/**
 * Which FHIR servers a call may make the service read from: the guard against server-side
 * request forgery (a client naming an internal host as `fhirServer`).
 *
 * - A client authenticated as a trusted issuer: the `fhirServers` of that issuer (default: its
 *   `iss`, when that is a URL).
 * - No authentication configured: the explicit FHIR_SERVER_ALLOWLIST; when that is not set either,
 *   only the embedded demo FHIR server (on loopback or PUBLIC_BASE_URL).
 *
 * Only the base is checked here; the data source keeps `next` links and redirects on its origin.
 */
export interface FhirServerPolicy {
  /**
   * @param fhirServer - the request's `fhirServer`.
   * @param client - the authenticated issuer, when authentication is on.
   */
  allows(fhirServer: string, client?: TrustedIssuer): boolean;
}

export interface FhirServerPolicyOptions {
  /** Whether clients authenticate (trusted issuers configured). */
  readonly authenticated: boolean;
  /**
   * FHIR base URLs any caller may name when authentication is off (a function: the demo's default
   * depends on the port, known once the server listens).
   */
  readonly allowlist: readonly string[] | (() => readonly string[]);
}

/**
 * @param options - whether authentication is on, and the allowlist used when it is off.
 */
export function createFhirServerPolicy(options: FhirServerPolicyOptions): FhirServerPolicy {
  return {
    allows(fhirServer, client) {
      if (!isCallableUrl(fhirServer)) return false;
      if (options.authenticated) {
        if (client === undefined) return false;
        return client.fhirServers.some((base) => isUnderBase(fhirServer, base));
      }
      const allowlist =
        typeof options.allowlist === 'function' ? options.allowlist() : options.allowlist;
      return allowlist.some((base) => isUnderBase(fhirServer, base));
    },
  };
}

/**
 * The embedded demo server's base URLs, the default allowlist when nothing else is configured:
 * the loopback names of the service's own port, and PUBLIC_BASE_URL.
 * @param port - the port the service listens on.
 * @param mountPath - where the demo server is mounted (`/demo/fhir`).
 * @param publicBaseUrl - the service's public URL, if set.
 */
export function demoFhirServerBases(
  port: number,
  mountPath: string,
  publicBaseUrl?: string,
): string[] {
  const bases = ['localhost', '127.0.0.1', '[::1]'].map(
    (host) => `http://${host}:${port}${mountPath}`,
  );
  if (publicBaseUrl !== undefined) bases.push(`${publicBaseUrl}${mountPath}`);
  return bases;
}
