import type { ChannelSubscribeOptions, Publication } from '../sdk'

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

/**
 * The token option for a subscription made once per channel while the component's `token` prop may change:
 * asked for at every (re)subscribe, it reads the latest one. Undefined when the first render gave none.
 */
export function latestToken(latest: {
  readonly current: { token?: ChannelSubscribeOptions['token'] }
}): ChannelSubscribeOptions['token'] {
  if (latest.current.token === undefined) return undefined
  return () => {
    const token = latest.current.token
    return typeof token === 'function' ? token() : token
  }
}
