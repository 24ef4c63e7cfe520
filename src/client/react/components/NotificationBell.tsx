import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react'
import type { UseNotificationsResult } from '../useNotifications'
import { NotificationCenter } from './NotificationCenter'

export interface NotificationBellProps {
  /** What useNotifications() returned. */
  inbox: UseNotificationsResult
  /** Shown at the foot of the panel, e.g. <BrowserNotificationsToggle />. */
  panelFooter?: ReactNode
  className?: string
}

/** "99+" past 99, nothing at 0. */
const badgeText = (count: number) => (count > 99 ? '99+' : String(count))

/**
 * A bell with the unread count that opens the notification center in a panel. The panel is a non-modal
 * dialog: focus moves into it when it opens and back to the bell when it closes; Escape, the close button and
 * a click outside close it. On narrow screens it spans the width of the window.
 */
export function NotificationBell({ inbox, panelFooter, className }: NotificationBellProps) {
  const [open, setOpen] = useState(false)
  const id = useId()
  const panelId = `${id}-panel`
  const headingId = `${id}-title`
  const button = useRef<HTMLButtonElement>(null)
  const panel = useRef<HTMLDivElement>(null)
  // The badge counts what the user has not seen yet; opening the panel marks it all seen (every tab follows).
  const count = inbox.unseenCount
  const { markAllAsSeen } = inbox

  const close = useCallback((returnFocus: boolean) => {
    setOpen(false)
    if (returnFocus) button.current?.focus()
  }, [])

  // While open, what arrives is seen as it arrives.
  const newest = inbox.notifications[0]?.seq ?? 0
  useEffect(() => {
    if (open && count > 0 && newest > 0) void markAllAsSeen()
  }, [open, count, newest, markAllAsSeen])

  useEffect(() => {
    if (!open) return
    document.getElementById(headingId)?.focus()
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault()
        close(true)
      }
    }
    const onPointer = (event: PointerEvent) => {
      const target = event.target as Node
      if (!panel.current?.contains(target) && !button.current?.contains(target)) close(false)
    }
    document.addEventListener('keydown', onKey)
    document.addEventListener('pointerdown', onPointer)
    return () => {
      document.removeEventListener('keydown', onKey)
      document.removeEventListener('pointerdown', onPointer)
    }
  }, [open, headingId, close])

  const label = count === 0 ? 'Notifications, nothing new' : `Notifications, ${count} new`
  return (
    <div className={`herald-bell${className ? ` ${className}` : ''}`}>
      <button
        ref={button}
        type="button"
        className="herald-bell__button"
        aria-label={label}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        onClick={() => (open ? close(false) : setOpen(true))}
        data-testid="notification-bell"
        data-unseen={count}
        data-unread={inbox.unreadCount}
      >
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path
            d="M18 16v-5a6 6 0 10-12 0v5l-2 2h16l-2-2zM10 20.5a2.2 2.2 0 004 0"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.8"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
        {count > 0 && (
          <span className="herald-bell__badge" aria-hidden="true" data-testid="notification-badge">
            {badgeText(count)}
          </span>
        )}
      </button>
      {open && (
        <div
          ref={panel}
          id={panelId}
          role="dialog"
          aria-modal="false"
          aria-labelledby={headingId}
          className="herald-panel"
          data-testid="notification-panel"
        >
          <NotificationCenter
            inbox={inbox}
            headingId={headingId}
            onClose={() => close(true)}
            footer={panelFooter}
          />
        </div>
      )}
    </div>
  )
}
