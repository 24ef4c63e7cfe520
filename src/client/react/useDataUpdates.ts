import { useEffect, useLayoutEffect, useRef, useState } from 'react'
import type { DataUpdateMessage } from '../sdk'
import { useHeraldClient } from './useHeraldClient'

/** A `data_update` whose data is typed by the caller (e.g. `Token` for entity 'token'). */
export type DataUpdate<T = unknown> = Omit<DataUpdateMessage, 'data'> & { data: T }

/** Updates kept when no callback is given (oldest dropped first). */
const KEPT = 100

/**
 * Live `data_update` messages of one entity ('token' or 'user'). With `onUpdate`, each is handed to it (the
 * latest function passed is used) and nothing is kept; without, the hook returns the ones received since it
 * mounted, oldest first (the last 100). Updates are not replayed after a reconnection: re-fetch the entity's
 * list on `resumed` if a missed one matters.
 */
export function useDataUpdates<T = unknown>(
  entity: DataUpdateMessage['entity'],
  onUpdate?: (update: DataUpdate<T>) => void,
): DataUpdate<T>[] {
  const client = useHeraldClient()
  const [updates, setUpdates] = useState<DataUpdate<T>[]>([])
  const handler = useRef(onUpdate)
  useLayoutEffect(() => {
    handler.current = onUpdate
  })
  const keep = onUpdate === undefined

  useEffect(() => {
    setUpdates([])
    return client.on('data_update', (message) => {
      if (message.entity !== entity) return
      const update = message as DataUpdate<T>
      if (handler.current) handler.current(update)
      else if (keep) setUpdates((list) => [...list.slice(-(KEPT - 1)), update])
    })
  }, [client, entity, keep])

  return updates
}
