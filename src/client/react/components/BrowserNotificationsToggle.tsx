import { useEffect, useId, useState } from 'react'
import { useHeraldClient } from '../useHeraldClient'

export interface BrowserNotificationsToggleProps {
  /** Where the choice is remembered (default "herald.browserNotifications"). */
  storageKey?: string
  /** Only while the page is hidden (default true: a visible page shows toasts instead). */
  onlyWhenHidden?: boolean
}

type Permission = NotificationPermission | 'unsupported'

const supported = () => typeof window !== 'undefined' && 'Notification' in window
const readPermission = (): Permission => (supported() ? Notification.permission : 'unsupported')

/**
 * A switch for system notifications (the Notification API). Permission is asked only when the user turns it
 * on, never on load. While on and granted, each live notification becomes a system notification; keep this
 * component mounted (it does the showing). Several tabs show one: each uses the notification id as its tag.
 */
export function BrowserNotificationsToggle({
  storageKey = 'herald.browserNotifications',
  onlyWhenHidden = true,
}: BrowserNotificationsToggleProps) {
  const client = useHeraldClient()
  const labelId = useId()
  const [permission, setPermission] = useState<Permission>(readPermission)
  const [enabled, setEnabled] = useState(() => {
    try {
      return localStorage.getItem(storageKey) === 'on'
    } catch {
      return false
    }
  })
  const active = enabled && permission === 'granted'

  useEffect(() => {
    try {
      localStorage.setItem(storageKey, enabled ? 'on' : 'off')
    } catch {
      // Storage may be unavailable (private mode): the choice lasts for this page only.
    }
  }, [enabled, storageKey])

  useEffect(() => {
    if (!active) return
    return client.on('notification', (n) => {
      if (onlyWhenHidden && document.visibilityState === 'visible') return
      try {
        const shown = new Notification(n.title, { body: n.message, tag: `herald-${n.id}` })
        shown.onclick = () => {
          window.focus()
          shown.close()
        }
      } catch {
        // Some browsers (Android Chrome) only show them from a service worker: nothing to do here.
      }
    })
  }, [active, client, onlyWhenHidden])

  if (permission === 'unsupported')
    return (
      <p className="herald-toggle__note" data-testid="browser-notifications-unsupported">
        Desktop notifications are not available in this browser.
      </p>
    )
  if (permission === 'denied')
    return (
      <p className="herald-toggle__note" data-testid="browser-notifications-denied">
        Desktop notifications are blocked for this site; allow them in the browser’s site settings.
      </p>
    )

  const toggle = async () => {
    if (active) {
      setEnabled(false)
      return
    }
    let next: Permission = permission
    if (next !== 'granted') next = await Notification.requestPermission()
    setPermission(next)
    setEnabled(next === 'granted')
  }

  return (
    <div className="herald-toggle">
      <span id={labelId} className="herald-toggle__label">
        Desktop notifications
        <span className="herald-toggle__hint">
          {permission === 'default' ? 'Your browser will ask first' : 'When this tab is in the background'}
        </span>
      </span>
      <button
        type="button"
        role="switch"
        aria-checked={active}
        aria-labelledby={labelId}
        className="herald-switch"
        onClick={() => void toggle()}
        data-testid="browser-notifications-toggle"
      >
        <span className="herald-switch__thumb" aria-hidden="true" />
      </button>
    </div>
  )
}
