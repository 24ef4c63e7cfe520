import { describe, expect, test } from 'bun:test'
import type { Transfer } from '../sdk'
import { mergeTransfers, transferProgress } from './transfersState'

// The list behind useTransfers(): HTTP pages and live `data_update`s of the same transfers, merged.

const t = (id: number, status: Transfer['status'], confirmations: number, second: number): Transfer => ({
  id: String(id),
  token: '0x0000000000000000000000000000000000000001',
  standard: 'erc20',
  from: '0x0000000000000000000000000000000000000002',
  to: '0x0000000000000000000000000000000000000003',
  value: '5',
  txHash: `0x${String(id).padStart(64, '0')}`,
  logIndex: 0,
  blockNumber: 100 + id,
  blockHash: `0x${'ab'.repeat(32)}`,
  status,
  confirmations,
  updatedAt: new Date(1_700_000_000_000 + second * 1000).toISOString(),
})

describe('mergeTransfers', () => {
  test('newest first by id; a later update of the same transfer replaces it', () => {
    const list = mergeTransfers([], [t(1, 'confirmed', 3, 1), t(3, 'included', 1, 1)])
    expect(list.map((x) => x.id)).toEqual(['3', '1'])
    const next = mergeTransfers(list, [t(2, 'included', 1, 2), t(3, 'included', 2, 2)])
    expect(next.map((x) => [x.id, x.confirmations])).toEqual([
      ['3', 2],
      ['2', 1],
      ['1', 3],
    ])
  })

  test('a page fetched before a live update does not undo it', () => {
    const live = mergeTransfers([], [t(4, 'reorged', 0, 5)])
    expect(mergeTransfers(live, [t(4, 'included', 1, 4)])[0]).toMatchObject({ status: 'reorged' })
    expect(mergeTransfers(live, [t(4, 'included', 1, 6)])[0]).toMatchObject({ status: 'included' })
  })
})

describe('transferProgress', () => {
  test('n of N while included, the status otherwise', () => {
    expect(transferProgress(t(1, 'included', 1, 0), 3).label).toBe('1/3 confirmations')
    expect(transferProgress(t(1, 'included', 1, 0), null).label).toBe('1 confirmation')
    expect(transferProgress(t(1, 'confirmed', 3, 0), 3).label).toBe('confirmed')
    expect(transferProgress(t(1, 'reorged', 0, 0), 3).label).toBe('reorged')
  })
})
