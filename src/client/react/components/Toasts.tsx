import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react'
import type { Notification } from '../../sdk'
import { useHeraldClient } from '../useHeraldClient'
import { NotificationIcon } from './NotificationIcon'

export interface ToastsProps {
  /** How long a toast stays (default 6 s); hovering or focusing it pauses the countdown. */
  durationMs?: number
  /** Most toasts on screen at once (default 3); older ones make way. */
  max?: number
  /** Which live notifications get a toast (default: all). */
  filter?: (notification: Notification) => boolean
  /**
   * Where the stack sits (default bottom-right). `top-right` sits under a sticky header (its height from the
   * CSS variable --herald-toasts-top, default 16px), away from the controls at the foot of a page.
   */
  placement?: 'bottom-right' | 'top-right'
}

/**
 * A toast for each live notification (not for the stored ones loaded over HTTP), announced politely to screen
 * readers, dismissed automatically or with its button.
 */
export function Toasts({ durationMs = 6000, max = 3, filter, placement = 'bottom-right' }: ToastsProps) {
  const client = useHeraldClient()
  const [toasts, setToasts] = useState<Notification[]>([])
  const filterRef = useRef(filter)
  useLayoutEffect(() => {
    filterRef.current = filter
  })

  useEffect(() => {
    setToasts([])
    return client.on('notification', (notification) => {
      if (filterRef.current && !filterRef.current(notification)) return
      setToasts((list) =>
        list.some((t) => t.id === notification.id) ? list : [...list, notification].slice(-max),
      )
    })
  }, [client, max])

  const dismiss = useCallback((id: string) => setToasts((list) => list.filter((t) => t.id !== id)), [])

  return (
    <section
      className={`herald-toasts herald-toasts--${placement}`}
      aria-label="New notifications"
      data-testid="toasts"
    >
      <div role="status" aria-live="polite" aria-relevant="additions" className="herald-toasts__stack">
        {toasts.map((t) => (
          <Toast key={t.id} notification={t} durationMs={durationMs} onDismiss={dismiss} />
        ))}
      </div>
    </section>
  )
}

function Toast({
  notification: n,
  durationMs,
  onDismiss,
}: {
  notification: Notification
  durationMs: number
  onDismiss: (id: string) => void
}) {
  const [paused, setPaused] = useState(false)
  useEffect(() => {
    if (paused) return
    const timer = setTimeout(() => onDismiss(n.id), durationMs)
    return () => clearTimeout(timer)
  }, [paused, durationMs, n.id, onDismiss])

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: hover and focus only pause the countdown; the button is the control.
    <div
      className="herald-toast"
      data-testid="toast"
      data-type={n.type}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <NotificationIcon type={n.type} />
      <div className="herald-toast__body">
        <p className="herald-toast__title">{n.title}</p>
        {n.message && <p className="herald-toast__message">{n.message}</p>}
      </div>
      <button
        type="button"
        className="herald-icon-button"
        aria-label={`Dismiss “${n.title}”`}
        onClick={() => onDismiss(n.id)}
        data-testid="toast-dismiss"
      >
        <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
          <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      </button>
    </div>
  )
}
