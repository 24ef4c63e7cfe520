import { useContext } from 'react'
import type { HeraldClient } from '../sdk'
import { HeraldContext } from './HeraldContext'

/** The client of the nearest <HeraldProvider>: `api` for HTTP calls, `on` for events, `send`. */
export function useHeraldClient(): HeraldClient {
  const client = useContext(HeraldContext)
  if (!client) throw new Error('useHeraldClient: render this inside <HeraldProvider>.')
  return client
}
