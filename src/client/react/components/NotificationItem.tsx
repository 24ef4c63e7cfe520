import { useRef } from 'react'
import type { Notification } from '../../sdk'
import { NotificationIcon } from './NotificationIcon'
import { RelativeTime } from './RelativeTime'

const CHECK = 'M5 12.5l4.5 4.5L19 7.5'
const BOX = 'M4 7h16M6 7v11a2 2 0 002 2h8a2 2 0 002-2V7M9 11h6M5 4h14v3H5z'
const BACK = 'M9 14L4 9l5-5M4 9h10a6 6 0 010 12h-3'

function ItemButton(props: { label: string; title: string; path: string; testId: string; onClick(): void }) {
  return (
    <button
      type="button"
      className="herald-icon-button herald-item__action"
      aria-label={props.label}
      title={props.title}
      onClick={props.onClick}
      data-testid={props.testId}
    >
      <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
        <path
          d={props.path}
          fill="none"
          stroke="currentColor"
          strokeWidth="2"
          strokeLinecap="round"
          strokeLinejoin="round"
        />
      </svg>
    </button>
  )
}

/** One notification: unread stands out; mark read, and archive (or bring back from the archive). */
export function NotificationItem({
  notification: n,
  onRead,
  onArchive,
  onUnarchive,
}: {
  notification: Notification
  onRead: (id: string) => Promise<void>
  onArchive?: (id: string) => Promise<void>
  onUnarchive?: (id: string) => Promise<void>
}) {
  const item = useRef<HTMLLIElement>(null)
  // The button goes away (or the item does): keep the keyboard user in the list.
  const keepFocus = () => {
    const target = item.current?.nextElementSibling ?? item.current?.previousElementSibling ?? item.current
    ;(target as HTMLElement | null)?.focus()
  }
  return (
    <li
      ref={item}
      tabIndex={-1}
      className={`herald-item${n.read ? '' : ' herald-item--unread'}`}
      data-testid="notification-item"
      data-notification-id={n.id}
      data-type={n.type}
      data-read={n.read ? 'true' : 'false'}
      data-seen={n.seen ? 'true' : 'false'}
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
      <div className="herald-item__actions">
        {!n.read && (
          <ItemButton
            label={`Mark “${n.title}” as read`}
            title="Mark as read"
            path={CHECK}
            testId="notification-mark-read"
            onClick={() => {
              item.current?.focus()
              void onRead(n.id)
            }}
          />
        )}
        {onArchive && (
          <ItemButton
            label={`Archive “${n.title}”`}
            title="Archive"
            path={BOX}
            testId="notification-archive"
            onClick={() => {
              keepFocus()
              void onArchive(n.id)
            }}
          />
        )}
        {onUnarchive && (
          <ItemButton
            label={`Move “${n.title}” back to the inbox`}
            title="Back to the inbox"
            path={BACK}
            testId="notification-unarchive"
            onClick={() => {
              keepFocus()
              void onUnarchive(n.id)
            }}
          />
        )}
      </div>
    </li>
  )
}
