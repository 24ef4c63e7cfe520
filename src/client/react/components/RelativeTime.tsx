import { useSyncExternalStore } from 'react'
import { formatFullDate, formatRelativeTime } from './formatRelativeTime'

// One shared clock for every timestamp on the page, ticking while any is mounted.
const TICK_MS = 30_000
let now = Date.now()
let timer: ReturnType<typeof setInterval> | null = null
const listeners = new Set<() => void>()

function subscribe(listener: () => void) {
  listeners.add(listener)
  if (!timer) {
    now = Date.now()
    timer = setInterval(() => {
      now = Date.now()
      for (const l of listeners) l()
    }, TICK_MS)
  }
  return () => {
    listeners.delete(listener)
    if (listeners.size === 0 && timer) {
      clearInterval(timer)
      timer = null
    }
  }
}
const read = () => now

export interface RelativeTimeProps {
  date: string | Date
  className?: string
}

/** "5 min. ago", kept current; the full date is in the title and in `dateTime`. */
export function RelativeTime({ date, className }: RelativeTimeProps) {
  useSyncExternalStore(subscribe, read, read) // re-render on every tick
  const value = new Date(date)
  return (
    <time
      className={className ?? 'herald-time'}
      dateTime={Number.isNaN(value.getTime()) ? undefined : value.toISOString()}
      title={formatFullDate(value)}
    >
      {formatRelativeTime(value)}
    </time>
  )
}
