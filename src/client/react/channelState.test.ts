import { describe, expect, test } from 'bun:test'
import type { Publication } from '../sdk'
import { mergePublications } from './channelState'

const at = (seq: number): Publication => ({
  channel: 'public:x',
  seq,
  data: seq,
  publishedAt: '2025-01-01T00:00:00.000Z',
})
const seqs = (list: Publication[]) => list.map((p) => p.seq)

describe('mergePublications', () => {
  test('oldest first, each seq once, the newest `keep`', () => {
    expect(seqs(mergePublications([at(1), at(2)], [at(3)], 10))).toEqual([1, 2, 3])
    expect(seqs(mergePublications([at(2), at(3)], [at(1), at(3), at(4)], 10))).toEqual([1, 2, 3, 4])
    expect(seqs(mergePublications([at(1), at(2), at(3)], [at(4), at(5)], 3))).toEqual([3, 4, 5])
  })
  test('a history page (newest first) merges into what is shown', () => {
    expect(seqs(mergePublications([at(9)], [at(8), at(7), at(6)], 100))).toEqual([6, 7, 8, 9])
  })
})
