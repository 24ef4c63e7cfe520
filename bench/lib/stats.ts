/** Percentile (0..100) of an ascending-sorted array, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

export interface Spread {
  median: number
  min: number
  max: number
  values: number[]
}

/** Median and range of repeated measurements (NaN for a failed repetition is left out). */
export function spread(values: number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v))
  const sorted = [...finite].sort((a, b) => a - b)
  const n = sorted.length
  const median =
    n === 0 ? Number.NaN : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, values }
}
