import type { Publication } from '../sdk'

// The list a channel view shows, as pure functions (tested in channelState.test.ts): the SDK delivers each
// publication once and in order; a reset's history page replaces what was shown; at most `keep` are held.

/** Publications oldest first, each seq once, the newest `keep`. */
export function mergePublications(
  shown: readonly Publication[],
  incoming: readonly Publication[],
  keep: number,
): Publication[] {
  const bySeq = new Map<number, Publication>()
  for (const publication of shown) bySeq.set(publication.seq, publication)
  for (const publication of incoming) bySeq.set(publication.seq, publication)
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-keep)
}
