import { type ReactNode, useId, useRef } from 'react'
import type { Notification } from '../../sdk'
import type { UseNotificationsResult } from '../useNotifications'
import { NotificationIcon } from './NotificationIcon'
import { RelativeTime } from './RelativeTime'

export interface NotificationCenterProps {
  /** What useNotifications() returned (call it once and share it with the bell). */
  inbox: UseNotificationsResult
  /** Shows a close button (the bell's panel passes it). */
  onClose?: () => void
  /** The heading's id, for a dialog's aria-labelledby. */
  headingId?: string
  /** Shown under the list, e.g. <BrowserNotificationsToggle />. */
  footer?: ReactNode
  className?: string
}

/**
 * The notification list: unread ones stand out, timestamps are relative (full date in the title), one or all
 * can be marked read, older pages load on demand, and empty, loading and error states say what is going on.
 */
export function NotificationCenter({
  inbox,
  onClose,
  headingId,
  footer,
  className,
}: NotificationCenterProps) {
  const generatedId = useId()
  const titleId = headingId ?? `${generatedId}-title`
  const { notifications, unreadCount, loading, error, hasMore, loadingMore } = inbox
  const allRead = unreadCount === 0 && notifications.every((n) => n.read)
  const empty = notifications.length === 0

  return (
    <section
      className={`herald-center${className ? ` ${className}` : ''}`}
      aria-labelledby={titleId}
      data-testid="notification-center"
    >
      <header className="herald-center__header">
        <div className="herald-center__heading">
          <h2 id={titleId} tabIndex={-1} className="herald-center__title">
            Notifications
          </h2>
          <span className="herald-center__count" data-testid="notification-unread-count">
            {unreadCount === 0 ? 'All read' : `${unreadCount} unread`}
          </span>
        </div>
        <div className="herald-center__actions">
          <button
            type="button"
            className="herald-link-button"
            aria-disabled={allRead}
            onClick={() => {
              if (!allRead) void inbox.markAllAsRead()
            }}
            data-testid="notification-mark-all-read"
          >
            Mark all read
          </button>
          <button
            type="button"
            className="herald-link-button"
            aria-disabled={empty}
            title="Marks everything read and empties this list; nothing is deleted"
            onClick={() => {
              if (!empty) void inbox.clearAll()
            }}
            data-testid="notification-clear-all"
          >
            Clear
          </button>
          {onClose && (
            <button
              type="button"
              className="herald-icon-button"
              aria-label="Close notifications"
              onClick={onClose}
              data-testid="notification-close"
            >
              <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
              </svg>
            </button>
          )}
        </div>
      </header>

      {error && (
        <div className="herald-center__error" role="alert" data-testid="notification-error">
          <span>Could not load notifications: {error}</span>
          <button type="button" className="herald-link-button" onClick={inbox.refresh}>
            Try again
          </button>
        </div>
      )}

      {loading && empty ? (
        <p className="herald-center__status" role="status">
          Loading notifications…
        </p>
      ) : empty ? (
        <div className="herald-center__empty" data-testid="notification-empty">
          <p className="herald-center__empty-title">You’re all caught up</p>
          <p>New notifications will appear here as they happen.</p>
        </div>
      ) : (
        <ul className="herald-center__list" aria-label="Notifications">
          {notifications.map((n) => (
            <NotificationItem key={n.id} notification={n} onRead={inbox.markAsRead} />
          ))}
        </ul>
      )}

      {hasMore && !empty && (
        <div className="herald-center__more">
          <button
            type="button"
            className="herald-button herald-button--secondary"
            onClick={() => void inbox.loadMore()}
            aria-disabled={loadingMore}
            data-testid="notification-load-more"
          >
            {loadingMore ? 'Loading…' : 'Load older'}
          </button>
        </div>
      )}
      {footer && <footer className="herald-center__footer">{footer}</footer>}
    </section>
  )
}

function NotificationItem({
  notification: n,
  onRead,
}: {
  notification: Notification
  onRead: (id: string) => Promise<void>
}) {
  const item = useRef<HTMLLIElement>(null)
  return (
    <li
      ref={item}
      tabIndex={-1}
      className={`herald-item${n.read ? '' : ' herald-item--unread'}`}
      data-testid="notification-item"
      data-notification-id={n.id}
      data-type={n.type}
      data-read={n.read ? 'true' : 'false'}
    >
      <NotificationIcon type={n.type} />
      <div className="herald-item__body">
        <p className="herald-item__title">
          {!n.read && <span className="herald-visually-hidden">Unread: </span>}
          {n.title}
        </p>
        {n.message && <p className="herald-item__message">{n.message}</p>}
        <RelativeTime date={n.createdAt} />
      </div>
      {!n.read && (
        <button
          type="button"
          className="herald-icon-button herald-item__read"
          aria-label={`Mark “${n.title}” as read`}
          title="Mark as read"
          onClick={() => {
            // The button goes away: keep the keyboard user on this item.
            item.current?.focus()
            void onRead(n.id)
          }}
          data-testid="notification-mark-read"
        >
          <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <path
              d="M5 12.5l4.5 4.5L19 7.5"
              fill="none"
              stroke="currentColor"
              strokeWidth="2"
              strokeLinecap="round"
              strokeLinejoin="round"
            />
          </svg>
        </button>
      )}
    </li>
  )
}
