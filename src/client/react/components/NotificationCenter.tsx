import { type ReactNode, useId, useState } from 'react'
import { type UseNotificationsResult, useNotifications } from '../useNotifications'
import { NotificationItem } from './NotificationItem'
import { PreferencesPanel } from './PreferencesPanel'

type Tab = 'inbox' | 'archive' | 'preferences'
const TABS: { tab: Tab; label: string }[] = [
  { tab: 'inbox', label: 'Inbox' },
  { tab: 'archive', label: 'Archive' },
  { tab: 'preferences', label: 'Preferences' },
]

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
 * The notification center: the inbox, the archive and the preferences, in tabs. Unread ones stand out,
 * timestamps are relative (full date in the title), one or all can be marked read, each can be archived (and
 * brought back), older pages load on demand, and empty, loading and error states say what is going on.
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
  const [tab, setTab] = useState<Tab>('inbox')
  const { notifications, unreadCount } = inbox
  const allRead = unreadCount === 0 && notifications.every((n) => n.read)
  const empty = notifications.length === 0
  const inInbox = tab === 'inbox'

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
            hidden={!inInbox}
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
            hidden={!inInbox}
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
      <div className="herald-tabs" role="tablist" aria-label="Notification views">
        {TABS.map(({ tab: value, label }) => (
          <button
            key={value}
            type="button"
            role="tab"
            id={`${titleId}-${value}`}
            aria-selected={tab === value}
            aria-controls={`${titleId}-${value}-panel`}
            className="herald-tabs__tab"
            onClick={() => setTab(value)}
            data-testid={`notification-tab-${value}`}
          >
            {label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`${titleId}-${tab}-panel`}
        aria-labelledby={`${titleId}-${tab}`}
        className="herald-center__panel"
        data-testid={`notification-panel-${tab}`}
      >
        {tab === 'inbox' && <NotificationList inbox={inbox} />}
        {tab === 'archive' && <ArchiveList />}
        {tab === 'preferences' && <PreferencesPanel />}
      </div>
      {footer && <footer className="herald-center__footer">{footer}</footer>}
    </section>
  )
}

/** The archive: its own list, loaded when the tab opens. */
function ArchiveList() {
  const archive = useNotifications({ archived: true })
  return <NotificationList inbox={archive} archived />
}

function NotificationList({
  inbox,
  archived = false,
}: {
  inbox: UseNotificationsResult
  archived?: boolean
}) {
  const { notifications, loading, error, hasMore, loadingMore } = inbox
  const empty = notifications.length === 0
  return (
    <>
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
          {archived ? (
            <p className="herald-center__empty-title">Nothing archived</p>
          ) : (
            <>
              <p className="herald-center__empty-title">You’re all caught up</p>
              <p>New notifications will appear here as they happen.</p>
            </>
          )}
        </div>
      ) : (
        <ul
          className="herald-center__list"
          aria-label={archived ? 'Archived notifications' : 'Notifications'}
        >
          {notifications.map((n) => (
            <NotificationItem
              key={n.id}
              notification={n}
              onRead={inbox.markAsRead}
              onArchive={archived ? undefined : inbox.archive}
              onUnarchive={archived ? inbox.unarchive : undefined}
            />
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
    </>
  )
}
