import { heapStats } from 'bun:jsc'

/** After a full collection: the JavaScript heap's size and its live cells by type (Bun servers only). */
export function heapSnapshot() {
  Bun.gc(true)
  const stats = heapStats()
  return {
    heapSize: stats.heapSize,
    extraMemorySize: stats.extraMemorySize,
    objectCount: stats.objectCount,
    objectTypeCounts: stats.objectTypeCounts,
  }
}

export type HeapSnapshot = ReturnType<typeof heapSnapshot>

/** What N connections added to the heap, per connection, largest first. */
export function heapPerConnection(before: HeapSnapshot, after: HeapSnapshot, n: number) {
  const types = new Set([...Object.keys(before.objectTypeCounts), ...Object.keys(after.objectTypeCounts)])
  const cells = [...types]
    .map((type) => ({
      type,
      perConnection: ((after.objectTypeCounts[type] ?? 0) - (before.objectTypeCounts[type] ?? 0)) / n,
    }))
    .filter((row) => Math.abs(row.perConnection) >= 0.5)
    .sort((a, b) => b.perConnection - a.perConnection)
  return {
    heapBytesPerConnection: (after.heapSize - before.heapSize) / n,
    extraBytesPerConnection: (after.extraMemorySize - before.extraMemorySize) / n,
    cellsPerConnection: (after.objectCount - before.objectCount) / n,
    cells,
  }
}
