/** The token of an `Authorization: Bearer <token>` header (the scheme in any case), or null for anything else. */
export function bearerToken(authorization: string | null | undefined): string | null {
  return authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null
}
