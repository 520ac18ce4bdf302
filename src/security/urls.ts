/**
 * URL rules shared by the security checks: which URLs the service may fetch (JWKS, FHIR servers)
 * and whether a URL lies under an allowed base.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether the host is this machine (http is tolerated there only: tests and the embedded demo). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/**
 * A URL the service may call: https anywhere, http only on loopback, never with credentials
 * (`user:pass@`) or a fragment.
 * @param value - the URL as written.
 */
export function isCallableUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

/** A base URL without its trailing slashes (`https://x/fhir/` -> `https://x/fhir`). */
export function normalizeBase(value: string): string {
  const url = new URL(value);
  url.search = '';
  url.hash = '';
  return url.href.replace(/\/+$/, '');
}

/**
 * Whether `candidate` is `base` or lies under it: same scheme, host and port, and a path that
 * starts with the base's path at a segment boundary (`https://x/fhir` covers `https://x/fhir/r4`
 * but not `https://x/fhirx`). A query or fragment on the candidate never matches.
 * @param candidate - the URL to check (e.g. a request's fhirServer).
 * @param base - an allowed base URL.
 */
export function isUnderBase(candidate: string, base: string): boolean {
  let url: URL;
  let allowed: URL;
  try {
    url = new URL(candidate);
    allowed = new URL(base);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    return false;
  if (url.origin !== allowed.origin) return false;
  const path = url.pathname.replace(/\/+$/, '');
  const prefix = allowed.pathname.replace(/\/+$/, '');
  // Dot segments are resolved by URL; encoded ones (%2e%2e) are not path separators to a server
  // that follows RFC 3986, but refuse them rather than guess.
  if (/%2e|%2f|%5c/i.test(url.pathname)) return false;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether a request URL stays under a FHIR base: same scheme, host and port, a path at or below the
 * base's path (dot segments already resolved by URL; encoded dots and slashes refused), no
 * credentials or fragment. Unlike isUnderBase, a query is allowed: it is a search or a next page.
 * Every request to a client's FHIR server (reads, next links, redirects) keeps to its
 * `fhirServer` this way (issue 15 item 13).
 * @param candidate - the absolute URL about to be requested.
 * @param base - the request's fhirServer.
 */
export function isRequestUnderBase(candidate: string, base: string): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  url.search = '';
  return url.username === '' && url.password === '' && isUnderBase(url.href, base);
}
