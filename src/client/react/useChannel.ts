import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react'
import type { ChannelSubscribeOptions, ChannelSubscription, ConnectionState, Publication } from '../sdk'
import { latestToken, mergePublications } from './channelState'
import { useHeraldClient } from './useHeraldClient'

export interface UseChannelOptions {
  /** The subscription token of a `private:` channel, or a function asked for one at every (re)subscribe. */
  token?: ChannelSubscribeOptions['token']
  /** Publications kept in `publications` (default 100, oldest dropped first). */
  keep?: number
  /** Each publication as it arrives (the latest function passed is used). */
  onPublication?: (publication: Publication) => void
  /**
   * Begin with the channel's newest `history` publications (at most 100): read over HTTP first, then
   * subscribed with `since` the newest of them, so none is missed or shown twice between the page and the live
   * ones. Default 0: the subscription starts now. Read when the channel changes.
   */
  history?: number
}

export type ChannelViewState = 'connecting' | 'subscribing' | 'live' | 'ended'

export interface UseChannelResult {
  /** Oldest first, each once, in seq order, across reconnects; after a reset, the newest page of history. */
  publications: Publication[]
  /** `live` once subscribed; `ended` when the server refused or ended it (`error` says why). */
  state: ChannelViewState
  /** Publishes on the channel (`private:`/`holders:` only); resolves with the seq once stored. */
  publish: (data: unknown) => Promise<{ seq: number }>
  /** Why the subscription ended (`FORBIDDEN`, `TOKEN_EXPIRED`, …), or null. */
  error: { code: string; message: string } | null
  /** The subscription itself (presence(), lastSeq), once made. */
  subscription: ChannelSubscription | null
}

const viewState = (
  subscription: ChannelSubscription | null,
  connection: ConnectionState,
): ChannelViewState => {
  const state = subscription?.state
  if (state === 'ended') return 'ended'
  if (state === 'live') return 'live'
  return connection === 'connected' || connection === 'authenticating' ? 'subscribing' : 'connecting'
}

/**
 * A channel's live publications (docs/protocol.md §4): subscribes while mounted (the SDK subscribes again with
 * `since` after every reconnect, so nothing is missed or doubled), keeps the newest `keep`, and after a
 * `channel_reset` (more missed than the server replays) shows the newest page of history over HTTP.
 */
export function useChannel(
  channel: string | null | undefined,
  options: UseChannelOptions = {},
): UseChannelResult {
  const client = useHeraldClient()
  const keep = Math.max(1, options.keep ?? 100)
  const [publications, setPublications] = useState<Publication[]>([])
  const [subscription, setSubscription] = useState<ChannelSubscription | null>(null)
  const [error, setError] = useState<{ code: string; message: string } | null>(null)
  const [, setVersion] = useState(0)
  const latest = useRef(options)
  useLayoutEffect(() => {
    latest.current = options
  })

  useEffect(() => {
    setPublications([])
    setError(null)
    if (!channel) {
      setSubscription(null)
      return
    }
    setSubscription(null)
    let active = true
    let current: ChannelSubscription | null = null
    const bump = () => setVersion((v) => v + 1)
    const channelToken = () => {
      const token = latest.current.token
      return Promise.resolve(typeof token === 'function' ? token() : token)
    }
    const start = (since?: number) => {
      if (!active) return
      current = client.subscribe(channel, {
        token: latestToken(latest),
        since,
        onPublication(publication) {
          setPublications((list) => mergePublications(list, [publication], keep))
          latest.current.onPublication?.(publication)
        },
        onSubscribed: bump,
        onEnded(code, message) {
          setError({ code, message })
          bump()
        },
        onReset() {
          bump()
          void channelToken()
            .then((token) =>
              client.api.channels.history(channel, {
                limit: Math.min(100, keep),
                channelToken: token ?? undefined,
              }),
            )
            .then(
              (page) => {
                if (active) setPublications((list) => mergePublications(list, page.publications, keep))
              },
              () => {},
            )
        },
      })
      setSubscription(current)
    }
    const history = Math.min(100, Math.max(0, Math.floor(latest.current.history ?? 0)))
    if (history === 0) start()
    else
      void channelToken()
        .then((token) =>
          client.api.channels.history(channel, { limit: history, channelToken: token ?? undefined }),
        )
        .then(
          (page) => {
            if (!active) return
            setPublications((list) => mergePublications(list, page.publications, keep))
            // Newest first: everything after the newest shown is replayed, then live.
            start(page.publications[0]?.seq ?? 0)
          },
          // No history to read (no right to it, say): subscribe anyway, and its refusal says why.
          () => start(),
        )
    const off = client.on('state', bump)
    return () => {
      active = false
      off()
      current?.unsubscribe()
    }
  }, [client, channel, keep])

  const publish = useCallback(
    (data: unknown) => {
      if (!subscription) return Promise.reject(new Error('No channel to publish on.'))
      return subscription.publish(data)
    },
    [subscription],
  )

  return { publications, state: viewState(subscription, client.state), publish, error, subscription }
}
