import { useEffect, useLayoutEffect, useRef, useState } from 'react'
import type { ChannelMember, ChannelSubscribeOptions } from '../sdk'
import { latestToken } from './channelState'
import { useHeraldClient } from './useHeraldClient'

export interface UsePresenceOptions {
  /** The subscription token of a `private:` channel, or a function asked for one at every (re)subscribe. */
  token?: ChannelSubscribeOptions['token']
  /** How often counts-only channels (`public:`, `token:`) are asked again, in ms (default 10 s). */
  refreshMs?: number
}

export interface UsePresenceResult {
  /** Who is there (members channels: `private:`, `holders:`), with their connections; empty elsewhere. */
  members: (ChannelMember & { connections: number })[]
  /** Users and connections over every server instance (anonymous connections count in connections only). */
  users: number
  connections: number
  /** The first answer has arrived. */
  ready: boolean
}

const EMPTY: UsePresenceResult = { members: [], users: 0, connections: 0, ready: false }

/**
 * Who is on a channel, live: it subscribes while mounted, asks the server once subscribed, and again at every
 * `join` and `leave` (members channels) or every `refreshMs` (counts-only channels).
 */
export function usePresence(
  channel: string | null | undefined,
  options: UsePresenceOptions = {},
): UsePresenceResult {
  const client = useHeraldClient()
  const [presence, setPresence] = useState<UsePresenceResult>(EMPTY)
  const latest = useRef(options)
  useLayoutEffect(() => {
    latest.current = options
  })
  const refreshMs = options.refreshMs ?? 10_000

  useEffect(() => {
    setPresence(EMPTY)
    if (!channel) return
    let active = true
    let timer: ReturnType<typeof setInterval> | null = null
    const ask = () =>
      subscription.presence().then(
        (answer) => {
          if (!active) return
          if ('members' in answer)
            setPresence({
              members: answer.members,
              users: answer.members.length,
              connections: answer.members.reduce((sum, m) => sum + m.connections, 0),
              ready: true,
            })
          else setPresence({ members: [], users: answer.users, connections: answer.connections, ready: true })
        },
        () => {},
      )
    const subscription = client.subscribe(channel, {
      token: latestToken(latest),
      onSubscribed: () => void ask(),
      onJoin: () => void ask(),
      onLeave: () => void ask(),
    })
    // Another hook may have subscribed to the channel already: then no `subscribed` comes for this one.
    if (subscription.state === 'live') void ask()
    if (!channel.startsWith('private:') && !channel.startsWith('holders:'))
      timer = setInterval(() => {
        if (subscription.state === 'live') void ask()
      }, refreshMs)
    return () => {
      active = false
      if (timer) clearInterval(timer)
      subscription.unsubscribe()
    }
  }, [client, channel, refreshMs])

  return presence
}
