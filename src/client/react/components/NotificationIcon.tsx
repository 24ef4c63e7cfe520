/** A small glyph for a notification type: deployments, transfers, anything else. */
export function NotificationIcon({ type }: { type: string }) {
  const kind = type.startsWith('token_deployment')
    ? type.endsWith('failed')
      ? 'failed'
      : 'deploy'
    : type.startsWith('token_transfer')
      ? 'transfer'
      : 'info'
  return (
    <span className={`herald-icon herald-icon--${kind}`} aria-hidden="true">
      <svg
        viewBox="0 0 24 24"
        width="16"
        height="16"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        aria-hidden="true"
      >
        {kind === 'deploy' && <path d="M12 3l8 4.5v9L12 21l-8-4.5v-9L12 3zm0 0v18m8-13.5l-8 4.5-8-4.5" />}
        {kind === 'failed' && (
          <path d="M12 8v5m0 3.5v.5M10.3 3.9L2.4 18a2 2 0 001.7 3h15.8a2 2 0 001.7-3L13.7 3.9a2 2 0 00-3.4 0z" />
        )}
        {kind === 'transfer' && <path d="M4 8h14m0 0l-4-4m4 4l-4 4M20 16H6m0 0l4-4m-4 4l4 4" />}
        {kind === 'info' && <path d="M12 11v6m0-10v.5M12 22a10 10 0 110-20 10 10 0 010 20z" />}
      </svg>
    </span>
  )
}
