import { useEffect } from 'react'
import { useHeraldClient } from '../../../src/client/react'

/**
 * Re-dispatches every notification this tab's client delivers as a `herald:notification` DOM event on window
 * (detail: the notification), for scripts outside React: browser extensions, analytics, and the end-to-end
 * tests, which count what each tab receives.
 */
export function NotificationEvents() {
  const client = useHeraldClient()
  useEffect(
    () =>
      client.on('notification', (notification) =>
        window.dispatchEvent(new CustomEvent('herald:notification', { detail: notification })),
      ),
    [client],
  )
  return null
}
