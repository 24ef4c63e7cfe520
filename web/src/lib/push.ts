// Web Push in the app (docs/protocol.md §7): the service worker that shows pushes, and the subscription the
// account card turns on ("Notify me when I'm away").

const SERVICE_WORKER = '/sw.js'

export const pushSupported = () =>
  typeof window !== 'undefined' &&
  'serviceWorker' in navigator &&
  'PushManager' in window &&
  'Notification' in window

/** Registers the service worker at load (it shows pushes even with no tab open). Failures are left quiet. */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return
  navigator.serviceWorker.register(SERVICE_WORKER, { scope: '/' }).catch((error: unknown) => {
    console.warn('Herald: the service worker did not register', error)
  })
}

/** The server's VAPID public key, or null when the server has Web Push off (404). */
export async function vapidPublicKey(origin: string): Promise<string | null> {
  const response = await fetch(`${origin}/api/push/vapid-public-key`)
  if (response.status === 404) return null
  if (!response.ok) throw new Error(`The server answered ${response.status} for its push key.`)
  return ((await response.json()) as { key: string }).key
}

const fromBase64Url = (value: string) => {
  const base64 = value.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i])

/** This browser's subscription, if any (never waits for a service worker that may not register). */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null
  const registration = await navigator.serviceWorker.getRegistration('/')
  return registration ? registration.pushManager.getSubscription() : null
}

const send = async (origin: string, token: string, method: 'POST' | 'DELETE', body: unknown) => {
  const response = await fetch(`${origin}/api/push/subscriptions`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!response.ok) {
    const error = (await response.json().catch(() => null)) as { error?: { message?: string } } | null
    throw new Error(error?.error?.message ?? `The server answered ${response.status}.`)
  }
}

/**
 * Asks for permission (this is the user's click), subscribes this browser with the server's VAPID key and
 * stores the subscription for the signed-in user. Answers the permission when it is not granted.
 */
export async function enablePush(
  origin: string,
  token: string,
  key: string,
): Promise<NotificationPermission> {
  const permission =
    Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission()
  if (permission !== 'granted') return permission
  const registration = await navigator.serviceWorker.ready
  const applicationServerKey = fromBase64Url(key)
  let subscription = await registration.pushManager.getSubscription()
  // A subscription made with another key (the server's keys changed) would be refused by the push service.
  const madeWith = subscription?.options.applicationServerKey
  if (subscription && madeWith && !sameBytes(new Uint8Array(madeWith), applicationServerKey)) {
    await subscription.unsubscribe()
    subscription = null
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey })
  await send(origin, token, 'POST', subscription.toJSON())
  return permission
}

/**
 * Forgets this browser's subscription here and at the server. Signing out calls it (before the token is
 * revoked): a browser left signed out must not keep receiving its last user's notifications.
 */
export async function disablePush(origin: string, token: string): Promise<void> {
  const subscription = await currentSubscription()
  if (!subscription) return
  await send(origin, token, 'DELETE', { endpoint: subscription.endpoint })
  await subscription.unsubscribe()
}
