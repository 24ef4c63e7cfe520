import type { StreamItem, StreamSource } from './types'

interface Waiter {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/**
 * The store's reads, with identical reads shared: a read asked for while the same read (same stream, same
 * `since`, same limit; or the same stream's latest seq) is in flight waits for the next one, which starts once
 * that one is over and answers everyone who asked meanwhile. After a restart, thousands of clients subscribe
 * again to one channel from the same seq at once (bench/storm.ts): one query per round trip instead of one
 * each, so the database's queue stops being the time until the last is live.
 *
 * A caller is never answered by a query that began before it asked: what it gets includes every item
 * committed before it asked, which the replay's no-gap rule (delivery.ts) relies on.
 */
export function coalesceReads<Item extends StreamItem>(source: StreamSource<Item>): StreamSource<Item> {
  /** Present while a read is in flight; the value: who waits for the next one (null: nobody yet). */
  const flights = new Map<string, Waiter[] | null>()

  const start = (id: string, read: () => Promise<unknown>): Promise<unknown> => {
    flights.set(id, null)
    let query: Promise<unknown>
    try {
      query = read()
    } catch (error) {
      query = Promise.reject(error)
    }
    const settle = () => {
      const waiters = flights.get(id)
      if (!waiters) {
        flights.delete(id)
        return
      }
      start(id, read).then(
        (value) => {
          for (const waiter of waiters) waiter.resolve(value)
        },
        (error) => {
          for (const waiter of waiters) waiter.reject(error)
        },
      )
    }
    query.then(settle, settle)
    return query
  }

  const shared = (id: string, read: () => Promise<unknown>): Promise<unknown> => {
    if (!flights.has(id)) return start(id, read)
    return new Promise((resolve, reject) => {
      let waiters = flights.get(id)
      if (!waiters) {
        waiters = []
        flights.set(id, waiters)
      }
      waiters.push({ resolve, reject })
    })
  }

  return {
    async loadSince(key, since, limit) {
      const items = (await shared(`items\u0000${key}\u0000${since}\u0000${limit}`, () =>
        source.loadSince(key, since, limit),
      )) as Item[]
      // Each caller gets its own array (the items themselves are only read).
      return items.slice()
    },
    latestSeq: (key) => shared(`latest\u0000${key}`, () => source.latestSeq(key)) as Promise<number>,
  }
}
