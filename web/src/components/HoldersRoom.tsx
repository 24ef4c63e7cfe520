import { type FormEvent, useEffect, useRef, useState } from 'react'
import { RelativeTime, useChannel, usePresence } from '../../../src/client/react'
import type { Publication } from '../../../src/client/sdk'
import { useApp } from '../AppContext'
import { errorMessage, shortAddress } from '../lib/format'
import { signInPath, tokenPath } from '../lib/route'
import { AddressAvatar } from './AddressAvatar'
import { AppLink } from './AppLink'

const MAX_MESSAGE = 500

/**
 * `holders:<address>`: a chat with who is here, open only to holders of the token (the server checks the
 * balance on the chain when one enters, and again while they stay). Whoever cannot enter is told why.
 */
export function HoldersRoom({ address, symbol }: { address: string; symbol: string }) {
  const { session } = useApp()
  const [attempt, setAttempt] = useState(0)
  return (
    <section className="card" aria-labelledby="room-title" data-testid="holders-room">
      <div className="card__head">
        <h2 id="room-title">Holders' room</h2>
        <p className="muted small">Only wallets holding {symbol} can enter, chat and see who is here.</p>
      </div>
      {!session ? (
        <div className="room-locked" data-testid="room-locked" data-reason="signed-out">
          <p>
            <strong>Sign in to enter.</strong> This room is for holders of {symbol}: sign in with a wallet
            that holds some, and Herald checks its balance on the chain.
          </p>
          <AppLink className="herald-button" href={signInPath(tokenPath(address))} data-testid="room-sign-in">
            Sign in with a wallet
          </AppLink>
        </div>
      ) : (
        <Room
          key={`${session.userId}-${attempt}`}
          address={address}
          symbol={symbol}
          retry={() => setAttempt((n) => n + 1)}
        />
      )}
    </section>
  )
}

function Room({ address, symbol, retry }: { address: string; symbol: string; retry: () => void }) {
  const { session } = useApp()
  const room = useChannel(`holders:${address}`, { history: 30 })
  if (room.error) {
    const refused = room.error.code === 'FORBIDDEN'
    return (
      <div
        className="room-locked"
        data-testid="room-locked"
        data-reason={refused ? 'not-a-holder' : room.error.code}
      >
        {refused ? (
          <p>
            <strong>Your wallet holds no {symbol}.</strong>{' '}
            {session && <span className="mono">{shortAddress(session.address)}</span>} has a balance of zero
            on the chain, so it cannot enter: the room is only for holders (a holder who sends all of it away
            leaves the room too). Get some {symbol} and try again.
          </p>
        ) : (
          <p>The room is not available: {room.error.message}</p>
        )}
        <button
          type="button"
          className="herald-button herald-button--secondary"
          onClick={retry}
          data-testid="room-retry"
        >
          Try again
        </button>
      </div>
    )
  }
  if (room.state !== 'live')
    return (
      <p className="muted" role="status" data-testid="room-entering">
        Checking your balance of {symbol}…
      </p>
    )
  return (
    <div className="room" data-testid="room" data-state={room.state}>
      <Members channel={`holders:${address}`} />
      <Messages publications={room.publications} me={session?.userId ?? ''} />
      <Composer publish={room.publish} />
    </div>
  )
}

/** Who is here: mounted once the room is live, so the room's own subscription (with its history) is first. */
function Members({ channel }: { channel: string }) {
  const presence = usePresence(channel)
  return (
    <div className="room__members" data-testid="room-members">
      <p className="section-label">Here now{presence.ready ? ` · ${presence.users}` : ''}</p>
      <ul className="member-list">
        {presence.members.map((member) => (
          <li key={member.userId} className="member" data-testid="room-member" data-address={member.address}>
            <AddressAvatar address={member.address} size={20} />
            <span className="mono" title={member.address}>
              {shortAddress(member.address)}
            </span>
            {member.connections > 1 && <span className="muted small"> · {member.connections} tabs</span>}
          </li>
        ))}
      </ul>
    </div>
  )
}

function Messages({ publications, me }: { publications: Publication[]; me: string }) {
  const end = useRef<HTMLLIElement>(null)
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll to the newest whenever one arrives.
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' })
  }, [publications.length])
  const messages = publications.filter((p) => typeof (p.data as { text?: unknown } | null)?.text === 'string')
  return (
    <ul className="room__messages" data-testid="room-messages" aria-live="polite">
      {messages.length === 0 && <li className="muted small">No messages yet. Say hello.</li>}
      {messages.map((p) => (
        <li
          key={p.seq}
          className={`message${p.from?.userId === me ? ' message--mine' : ''}`}
          data-testid="room-message"
          data-from={p.from?.address ?? ''}
        >
          <span className="message__from mono" title={p.from?.address}>
            {p.from ? shortAddress(p.from.address) : 'Herald'}
          </span>{' '}
          <span className="message__text">{(p.data as { text: string }).text}</span>{' '}
          <span className="muted small">
            <RelativeTime date={p.publishedAt} />
          </span>
        </li>
      ))}
      <li ref={end} aria-hidden="true" />
    </ul>
  )
}

function Composer({ publish }: { publish: (data: unknown) => Promise<{ seq: number }> }) {
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const send = async (event: FormEvent) => {
    event.preventDefault()
    const message = text.trim()
    if (!message || busy) return
    setBusy(true)
    setError(null)
    try {
      await publish({ text: message.slice(0, MAX_MESSAGE) })
      setText('')
    } catch (e) {
      setError(errorMessage(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="room__composer" onSubmit={(event) => void send(event)}>
      <input
        className="field__input"
        value={text}
        maxLength={MAX_MESSAGE}
        onChange={(event) => setText(event.target.value)}
        placeholder="Message the holders"
        aria-label="Message"
        data-testid="room-input"
      />
      <button type="submit" className="herald-button" disabled={busy || !text.trim()} data-testid="room-send">
        Send
      </button>
      {error && (
        <p className="field__error" role="alert">
          {error}
        </p>
      )}
    </form>
  )
}
