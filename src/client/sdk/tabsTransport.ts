import { createDirectClient } from './directClient'
import { createTabsHub, type TabsHub } from './tabsHub'
import type { HubLink } from './tabsMember'
import { type Frame, type FromHub, sharedNames, type ToHub } from './tabsProtocol'

// The browser side of a shared socket: the links from a tab's client to the owner, the leader election, and
// noticing a member gone. Every member holds a Web Lock named after it for its whole life; the owner asks for
// that lock too, and is granted it exactly when the member's tab closes, crashes or leaves: no heartbeat.

interface Locks {
  request(name: string, callback: () => unknown): Promise<unknown>
}
const locks = (): Locks | null => (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks ?? null

// A refused lock request (a sandboxed frame, say) leaves this tab's client waiting to join: said, not thrown.
const lockFailed = (error: unknown) => console.error('herald: a Web Lock request failed', error)

/** Whether this is a browser page that can share a socket with the other tabs of its origin. */
export function canShareTabs(): boolean {
  return (
    typeof window !== 'undefined' &&
    locks() !== null &&
    (typeof SharedWorker === 'function' || typeof BroadcastChannel === 'function')
  )
}

/** Holds the lock `name` until released; `held` resolves once it is. */
function holdLock(name: string) {
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const held = new Promise<void>((granted) => {
    void locks()
      ?.request(name, () => {
        granted()
        return released
      })
      .catch(lockFailed)
  })
  return { held, release }
}

/** The owner side: the member is gone once its lock is free. */
export function watchMember(hub: TabsHub, url: string, member: string, known: Set<string>) {
  if (known.has(member)) return
  known.add(member)
  void locks()
    ?.request(sharedNames(url).memberLock(member), () => {
      known.delete(member)
      hub.detach(member)
    })
    .catch(lockFailed)
}

/**
 * A member's link to the SharedWorker that owns the socket. A worker that cannot start (its script missing, or
 * refused by a Content-Security-Policy) makes the link fall back to the leader election.
 */
export function sharedWorkerLink(url: string, createWorker: () => SharedWorker): HubLink {
  const id = crypto.randomUUID()
  const lock = holdLock(sharedNames(url).memberLock(id))
  let port: MessagePort | null = null
  let fallback: HubLink | null = null
  return {
    open(handlers) {
      const worker = createWorker()
      worker.onerror = () => {
        if (fallback || !port) return
        port.close()
        port = null
        lock.release()
        fallback = leaderLink(url)
        fallback.open(handlers)
      }
      port = worker.port
      port.onmessage = (event) => handlers.message(event.data as FromHub)
      port.start()
      void lock.held.then(() => handlers.ready())
    },
    send(body: ToHub) {
      if (fallback) fallback.send(body)
      else port?.postMessage({ url, from: id, body })
    },
    close() {
      fallback?.close()
      port?.close()
      port = null
      lock.release()
    },
  }
}

/** A member's link to the leader tab, over a BroadcastChannel (where there is no SharedWorker). */
export function leaderLink(url: string): HubLink {
  const id = crypto.randomUUID()
  const names = sharedNames(url)
  const lock = holdLock(names.memberLock(id))
  let channel: BroadcastChannel | null = null
  return {
    open(handlers) {
      standForLeader(url)
      channel = new BroadcastChannel(names.channel)
      channel.onmessage = (event) => {
        const frame = event.data as Frame
        if (frame.to === id && 'body' in frame) handlers.message(frame.body as FromHub)
        // A new leader (the first, or after the last one's tab closed or crashed): join it.
        else if (frame.to === '*') void lock.held.then(() => handlers.ready())
      }
      void lock.held.then(() => handlers.ready())
    },
    send(body: ToHub) {
      channel?.postMessage({ to: 'hub', from: id, body } satisfies Frame)
    },
    close() {
      channel?.close()
      channel = null
      lock.release()
    },
  }
}

const candidates = new Set<string>()

/**
 * This tab waits for the leader lock of `url`; once granted (at once for the first tab, or when the leader's
 * tab is gone) it owns the socket until the tab closes: the lock is released by the browser then.
 */
function standForLeader(url: string) {
  if (candidates.has(url)) return
  candidates.add(url)
  const names = sharedNames(url)
  void locks()
    ?.request(
      names.leaderLock,
      () =>
        new Promise<never>(() => {
          const hub = createTabsHub({ url, createClient: createDirectClient })
          const known = new Set<string>()
          const channel = new BroadcastChannel(names.channel)
          channel.onmessage = (event) => {
            const frame = event.data as Frame
            if (frame.to !== 'hub' || !('from' in frame)) return
            const { from } = frame
            if (frame.body.type === 'join') watchMember(hub, url, from, known)
            hub.receive(from, frame.body, (body) => channel.postMessage({ to: from, body } satisfies Frame))
          }
          channel.postMessage({ to: '*', hub: 'ready' } satisfies Frame)
        }),
    )
    .catch(lockFailed)
}
