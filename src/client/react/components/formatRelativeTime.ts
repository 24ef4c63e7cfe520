const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
]

/** "just now", "5 min. ago", "yesterday", "in 2 hr." (a clock a little ahead of ours), in the browser's language. */
export function formatRelativeTime(date: Date | string, now: number = Date.now(), locale?: string): string {
  const seconds = Math.round((new Date(date).getTime() - now) / 1000)
  if (!Number.isFinite(seconds)) return ''
  if (Math.abs(seconds) < 45) return 'just now'
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' })
  for (const [unit, size] of UNITS)
    if (Math.abs(seconds) >= size * 0.9 || unit === 'minute')
      return format.format(Math.round(seconds / size), unit)
  return 'just now'
}

/** The full date and time, for a title or a screen reader. */
export function formatFullDate(date: Date | string, locale?: string): string {
  const value = new Date(date)
  if (Number.isNaN(value.getTime())) return ''
  return value.toLocaleString(locale, { dateStyle: 'full', timeStyle: 'medium' })
}
