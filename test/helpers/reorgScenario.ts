import type { Address, Hex, PrivateKeyAccount } from 'viem'
import { mine, reorg } from './anvil'
import { publicClientOf, type SentTransfer, sendTokenTransfer, watcherAtHead } from './chainEvents'
import type { TestServer } from './testServer'

// Random (or scripted) sequences of what a chain does to a watcher: transfers, blocks, reorganisations of
// depth 1–5 that put some of the removed transfers back at other heights, and watcher restarts with the
// chain moving while it is down. The property test draws them with fast-check; the fast tier runs a fixed one.

export type ChainAction =
  /** token.transfer between two of the scenario's accounts (indexes), `amount` base units. */
  | { kind: 'transfer'; from: number; to: number; amount: number }
  | { kind: 'mine'; blocks: number }
  /**
   * Replaces the last `depth` blocks. The removed transfers listed in `keep` (by their order in the removed
   * blocks) come back, each sender's in nonce order and only up to its first one left out, from new block
   * `shift` upwards.
   */
  | { kind: 'reorg'; depth: number; keep: boolean[]; shift: number }
  /** Until the watcher has read the chain up to its head: its notifications are out. */
  | { kind: 'settle' }
  /** Stops the server; the next action happens while it is down; then it starts again on the same data. */
  | { kind: 'restart' }

export interface Scenario {
  rpcUrl: string
  token: Address
  accounts: PrivateKeyAccount[]
  /** No reorganisation reaches this block or below (the token and its registration live there). */
  floor: number
  server(): TestServer
  stop(): Promise<void>
  start(): Promise<void>
}

/** Runs the actions; returns what happened, one line per action, for a failing run's message. */
export async function runChainActions(
  scenario: Scenario,
  actions: readonly ChainAction[],
): Promise<string[]> {
  const { rpcUrl } = scenario
  const client = publicClientOf(rpcUrl)
  const sent = new Map<Hex, SentTransfer>()
  const log: string[] = []
  let restartAfter = false
  for (const action of actions) {
    if (action.kind === 'restart') {
      if (restartAfter) continue
      await scenario.stop()
      restartAfter = true
      log.push('stop')
      continue
    }
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
    switch (action.kind) {
      case 'transfer': {
        const from = scenario.accounts[action.from % scenario.accounts.length]!
        const to = scenario.accounts[action.to % scenario.accounts.length]!
        const transfer = await sendTokenTransfer(
          rpcUrl,
          from,
          scenario.token,
          to.address,
          BigInt(action.amount),
        )
        sent.set(transfer.hash, transfer)
        log.push(`transfer ${transfer.hash.slice(0, 10)} at ${transfer.blockNumber}`)
        break
      }
      case 'mine':
        await mine(rpcUrl, action.blocks)
        log.push(`mine ${action.blocks} after ${head}`)
        break
      case 'reorg': {
        const depth = Math.min(action.depth, head - scenario.floor)
        if (depth < 1) break
        const removed: Hex[] = []
        for (let number = head - depth + 1; number <= head; number++) {
          const block = await client.getBlock({ blockNumber: BigInt(number) })
          removed.push(...block.transactions.filter((hash) => sent.has(hash)))
        }
        const senders = new Map<Hex, Address>()
        for (const hash of removed) {
          const tx = await client.getTransaction({ hash })
          senders.set(hash, tx.from)
        }
        const dropped = new Set<Address>()
        const include: [Hex, number][] = []
        removed.forEach((hash, i) => {
          const sender = senders.get(hash)!
          if (dropped.has(sender) || !action.keep[i]) {
            dropped.add(sender)
            return
          }
          include.push([sent.get(hash)!.raw, Math.min(depth - 1, action.shift + include.length)])
        })
        await reorg(rpcUrl, depth, include)
        log.push(`reorg ${depth} at ${head}: ${removed.length} removed, ${include.length} back`)
        break
      }
      case 'settle':
        if (restartAfter) break
        await watcherAtHead(scenario.server().database.db, rpcUrl)
        log.push('settled')
        break
    }
    if (restartAfter) {
      await scenario.start()
      restartAfter = false
      log.push('start')
    }
  }
  if (restartAfter) {
    await scenario.start()
    log.push('start')
  }
  return log
}
