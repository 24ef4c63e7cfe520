// Herald's service worker: shows a Web Push (docs/protocol.md §7) and brings the app forward on click. It is
// served as a plain script from the app's root (/sw.js, scope /) and caches nothing: the app is always
// loaded from the network, so a stale page can never be served from here.

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

/** The payload: {"id","seq","type","title","message","url"?}; anything unreadable still shows something. */
function readPush(event) {
  try {
    const data = event.data ? event.data.json() : null
    if (data && typeof data === 'object') return data
  } catch {
    // Not JSON: shown as text below.
  }
  return { title: 'Herald', message: event.data ? event.data.text() : '' }
}

/** Only http(s) URLs are opened; anything else opens the app. */
function targetOf(url) {
  try {
    const target = new URL(typeof url === 'string' && url ? url : '/', self.location.origin)
    return target.protocol === 'https:' || target.protocol === 'http:' ? target.href : self.location.origin
  } catch {
    return self.location.origin
  }
}

self.addEventListener('push', (event) => {
  const data = readPush(event)
  const title = typeof data.title === 'string' && data.title ? data.title : 'Herald'
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof data.message === 'string' ? data.message : '',
      // One notification per Herald notification, however many times it is pushed.
      tag: data.id ? `herald-${data.id}` : undefined,
      data: { url: targetOf(data.url), id: data.id ?? null, seq: data.seq ?? null },
    }),
  )
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const url = event.notification.data?.url ?? self.location.origin
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      const sameOrigin = new URL(url).origin === self.location.origin
      // An open tab of the app comes forward (and goes to the notification's page when that is in the app).
      const tab = windows.find((client) => new URL(client.url).origin === self.location.origin)
      if (tab && (sameOrigin || url === self.location.origin)) {
        const focused = await tab.focus()
        if (sameOrigin && new URL(url).pathname !== '/' && focused.navigate) await focused.navigate(url)
        return
      }
      await self.clients.openWindow(url)
    })(),
  )
})
