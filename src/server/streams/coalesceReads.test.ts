import { describe, expect, test } from 'bun:test'
import { coalesceReads } from './coalesceReads'

// Shared reads of the store: a source in memory whose reads are held open until the test answers them, and
// which answers with what was committed when the read began (a database's snapshot).

function heldSource() {
  let committed = 0
  const reads: { kind: string; snapshot: number; answer(): void; fail(error: Error): void }[] = []
  const read = <T>(kind: string, value: (snapshot: number) => T) =>
    new Promise<T>((resolve, reject) => {
      const snapshot = committed
      reads.push({ kind, snapshot, answer: () => resolve(value(snapshot)), fail: reject })
    })
  return {
    reads,
    commit: () => ++committed,
    source: {
      loadSince: (key: string, since: number, limit: number) =>
        read(`items ${key} ${since} ${limit}`, (snapshot) =>
          Array.from({ length: Math.max(0, Math.min(limit, snapshot - since)) }, (_, i) => ({
            seq: since + 1 + i,
          })),
        ),
      latestSeq: (key: string) => read(`latest ${key}`, (snapshot) => snapshot),
    },
  }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('coalesceReads', () => {
  test('reads asked for while the same read is in flight share the next one', async () => {
    const store = heldSource()
    const reads = coalesceReads(store.source)
    store.commit()
    const first = reads.loadSince('c', 0, 10)
    const during = Array.from({ length: 50 }, () => reads.loadSince('c', 0, 10))
    expect(store.reads.length).toBe(1)
    store.reads[0]!.answer()
    await flush()
    // One more query for the fifty, begun after they asked.
    expect(store.reads.length).toBe(2)
    store.reads[1]!.answer()
    expect((await first).map((i) => i.seq)).toEqual([1])
    for (const answer of await Promise.all(during)) expect(answer.map((i) => i.seq)).toEqual([1])
  })

  test('a caller never gets a query that began before it asked', async () => {
    const store = heldSource()
    const reads = coalesceReads(store.source)
    const early = reads.loadSince('c', 0, 10)
    // Committed after the first read's snapshot and before the second caller asked: it must see it.
    store.commit()
    const late = reads.loadSince('c', 0, 10)
    const latest = reads.latestSeq('c')
    store.reads[0]!.answer()
    store.reads[1]!.answer()
    await flush()
    store.reads[2]!.answer()
    expect(await early).toEqual([])
    expect((await late).map((i) => i.seq)).toEqual([1])
    expect(await latest).toBe(1)
  })

  test('different streams, seqs and limits are read apart; each caller gets its own array', async () => {
    const store = heldSource()
    const reads = coalesceReads(store.source)
    store.commit()
    const answers = [
      reads.loadSince('a', 0, 10),
      reads.loadSince('b', 0, 10),
      reads.loadSince('a', 1, 10),
      reads.loadSince('a', 0, 5),
    ]
    expect(store.reads.map((r) => r.kind)).toEqual([
      'items a 0 10',
      'items b 0 10',
      'items a 1 10',
      'items a 0 5',
    ])
    for (const read of store.reads) read.answer()
    const [a] = await Promise.all(answers)
    const again = reads.loadSince('a', 0, 10)
    await flush()
    store.reads.at(-1)!.answer()
    const b = await again
    expect(b).toEqual(a!)
    expect(b).not.toBe(a!)
  })

  test('a failed read fails everyone who waited for it, and the next caller reads anew', async () => {
    const store = heldSource()
    const reads = coalesceReads(store.source)
    const first = reads.latestSeq('c')
    const waiting = [reads.latestSeq('c'), reads.latestSeq('c')]
    store.reads[0]!.answer()
    await flush()
    store.reads[1]!.fail(new Error('connection lost'))
    expect(await first).toBe(0)
    for (const result of await Promise.allSettled(waiting)) expect(result.status).toBe('rejected')
    const later = reads.latestSeq('c')
    expect(store.reads.length).toBe(3)
    store.commit()
    store.reads[2]!.answer()
    expect(await later).toBe(0)
  })
})
