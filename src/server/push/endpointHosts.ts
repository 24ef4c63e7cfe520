/**
 * Whether a push endpoint may be posted to: an https URL (no credentials in it) on a host PUSH_ENDPOINT_HOSTS
 * allows. Host names compare exactly, case-insensitively; `*.x` matches every subdomain of x, never x itself;
 * IP literals compare as URL.hostname writes them. Any port. The host is checked as written, not as it
 * resolves: the default list names only the browsers' push services, which resolve to public addresses.
 */
export function endpointAllowed(endpoint: string, patterns: readonly string[]): boolean {
  const url = URL.parse(endpoint)
  if (url?.protocol !== 'https:' || url.username || url.password) return false
  const host = url.hostname.toLowerCase()
  return patterns.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern,
  )
}
