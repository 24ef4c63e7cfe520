import { useEffect, useMemo, useState } from 'react'
import {
  RelativeTime,
  transferProgress,
  useChannel,
  useHeraldClient,
  usePresence,
} from '../../../src/client/react'
import type { Publication, Transfer } from '../../../src/client/sdk'
import type { TokenMeta } from '../hooks/useTokenMeta'
import { formatAmount, shortAddress, shortHash } from '../lib/format'

const ZERO = '0x0000000000000000000000000000000000000000'

interface DeployedToken {
  name?: string
  symbol?: string
  ownerAddress?: string
}

type FeedEntry =
  | { kind: 'transfer'; seq: number; transfer: Transfer }
  | { kind: 'deployed'; seq: number; token: DeployedToken; at: string }

/**
 * The channel's publications as the feed shows them: one line per transfer at its latest state (a transfer is
 * published again at each confirmation, and when a reorganisation takes it out), and the token's deployment;
 * newest first.
 */
function toEntries(publications: readonly Publication[]): FeedEntry[] {
  const transfers = new Map<string, FeedEntry>()
  const others: FeedEntry[] = []
  for (const publication of publications) {
    const data = publication.data as {
      transfer?: Transfer
      token?: DeployedToken
      action?: string
    } | null
    if (data?.transfer?.id)
      transfers.set(data.transfer.id, { kind: 'transfer', seq: publication.seq, transfer: data.transfer })
    else if (data?.token && data.action === 'created')
      others.push({ kind: 'deployed', seq: publication.seq, token: data.token, at: publication.publishedAt })
  }
  return [...transfers.values(), ...others].sort((a, b) => b.seq - a.seq)
}

/** `token:<address>`: every transfer Herald's watcher sees, live, for anyone (signed in or not). */
export function TokenFeed({ address, meta }: { address: string; meta: TokenMeta | null }) {
  const client = useHeraldClient()
  const channel = `token:${address}`
  const feed = useChannel(channel, { history: 20, keep: 200 })
  const entries = useMemo(() => toEntries(feed.publications), [feed.publications])
  const [required, setRequired] = useState<number | null>(null)
  useEffect(() => {
    let active = true
    client.api.chain.info().then(
      (info) => active && setRequired(info.requiredConfirmations),
      () => {},
    )
    return () => {
      active = false
    }
  }, [client])

  return (
    <section className="card" aria-labelledby="feed-title" data-testid="token-feed" data-state={feed.state}>
      <div className="card__head card__head--row">
        <h2 id="feed-title">Live transfers</h2>
        <span className="muted small" data-testid="feed-state">
          {feed.state === 'live' ? (
            <Watching channel={channel} />
          ) : feed.state === 'ended' ? (
            'stopped'
          ) : (
            'connecting…'
          )}
        </span>
      </div>
      {feed.error && (
        <div className="form-error" role="alert">
          The feed stopped: {feed.error.message}
        </div>
      )}
      {entries.length === 0 ? (
        <div className="empty" data-testid="token-feed-empty">
          <p className="empty__title">No transfers yet</p>
          <p className="muted">Every transfer of this token appears here as soon as a block includes it.</p>
        </div>
      ) : (
        <ul className="transfer-list">
          {entries.map((entry) =>
            entry.kind === 'transfer' ? (
              <FeedTransfer
                key={entry.transfer.id}
                transfer={entry.transfer}
                meta={meta}
                required={required}
              />
            ) : (
              <li key={`deployed-${entry.seq}`} className="transfer-item" data-testid="feed-deployed">
                <p className="transfer-item__what">
                  <span className="transfer-item__direction">Deployed</span> {entry.token.name}{' '}
                  {entry.token.symbol && <span className="token-symbol">{entry.token.symbol}</span>}
                </p>
                <p className="transfer-item__meta">
                  {entry.token.ownerAddress && (
                    <span className="mono">by {shortAddress(entry.token.ownerAddress)} · </span>
                  )}
                  <RelativeTime date={entry.at} />
                </p>
              </li>
            ),
          )}
        </ul>
      )}
    </section>
  )
}

/** How many are watching: mounted once the feed is live, so the feed's own subscription (with its history) is first. */
function Watching({ channel }: { channel: string }) {
  const presence = usePresence(channel)
  if (!presence.ready) return <>live</>
  return <span data-testid="feed-watchers">live · {presence.connections} watching</span>
}

function FeedTransfer({
  transfer,
  meta,
  required,
}: {
  transfer: Transfer
  meta: TokenMeta | null
  required: number | null
}) {
  const { status, label } = transferProgress(transfer, required)
  const symbol = meta?.symbol ?? ''
  const what =
    transfer.standard === 'erc721'
      ? `#${transfer.tokenId}`
      : meta
        ? formatAmount(BigInt(transfer.value ?? '0'), meta.decimals ?? 0)
        : '…'
  const kind = transfer.from === ZERO ? 'Minted' : transfer.to === ZERO ? 'Burned' : 'Transfer'
  return (
    <li
      className={`transfer-item transfer-item--${status}`}
      data-testid="feed-transfer"
      data-tx={transfer.txHash}
      data-status={status}
    >
      <div className="transfer-item__row">
        <div className="transfer-item__main">
          <p className="transfer-item__what">
            <span className="transfer-item__direction">{kind}</span> {what} {symbol}
          </p>
          <p className="transfer-item__meta">
            <span className="mono" title={`${transfer.from} → ${transfer.to}`}>
              {shortAddress(transfer.from)} → {shortAddress(transfer.to)}
            </span>
            <span aria-hidden="true"> · </span>
            <span className="mono" title={transfer.txHash}>
              {shortHash(transfer.txHash)}
            </span>
            <span aria-hidden="true"> · </span>
            <span>block {transfer.blockNumber}</span>
            <span aria-hidden="true"> · </span>
            <RelativeTime date={transfer.updatedAt} />
          </p>
        </div>
        <span className={`pill pill--${status}`} data-testid="feed-transfer-status">
          {label}
        </span>
      </div>
    </li>
  )
}
