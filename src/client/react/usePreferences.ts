import { useCallback, useEffect, useRef, useState } from 'react'
import type { Preferences } from '../sdk'
import { useHeraldClient } from './useHeraldClient'

export interface UsePreferencesResult {
  /** The user's preferences; null until loaded. Every tab follows changes through `preferences`. */
  preferences: Preferences | null
  /** The types to offer: every type the user has received, and every type the preferences name. */
  types: string[]
  /** Turns one type's in-app or push delivery on or off (the other types keep theirs). */
  setPreference: (type: string, channel: 'inApp' | 'push', on: boolean) => Promise<void>
  loading: boolean
  error: string | null
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** The signed-in user's notification preferences (docs/protocol.md §7), the same in every tab. */
export function usePreferences(): UsePreferencesResult {
  const client = useHeraldClient()
  const [preferences, setPreferences] = useState<Preferences | null>(null)
  const [received, setReceived] = useState<string[]>([])
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const latest = useRef<Preferences | null>(null)

  useEffect(() => {
    let live = true
    const apply = (next: Preferences) => {
      latest.current = next
      if (live) setPreferences(next)
    }
    const off = client.on('preferences', (message) => apply(message.preferences))
    setLoading(true)
    Promise.all([client.api.preferences.get(), client.api.notifications.types()]).then(
      ([stored, { types }]) => {
        // A `preferences` message that arrived meanwhile is newer than this answer.
        if (!latest.current) apply(stored)
        if (live) {
          setReceived(types)
          setLoading(false)
          setError(null)
        }
      },
      (failure: unknown) => {
        if (!live) return
        setLoading(false)
        setError(messageOf(failure))
      },
    )
    return () => {
      live = false
      off()
    }
  }, [client])

  const setPreference = useCallback(
    async (type: string, channel: 'inApp' | 'push', on: boolean) => {
      const current = latest.current
      if (!current) return
      const mine = current.types[type] ?? current.default
      const next: Preferences = {
        default: current.default,
        types: { ...current.types, [type]: { ...mine, [channel]: on } },
      }
      latest.current = next
      setPreferences(next)
      try {
        const stored = await client.api.preferences.set(next)
        latest.current = stored
        setPreferences(stored)
        setError(null)
      } catch (failure) {
        setError(messageOf(failure))
      }
    },
    [client],
  )

  const types = [...new Set([...received, ...Object.keys(preferences?.types ?? {})])].sort()
  return { preferences, types, setPreference, loading, error }
}
