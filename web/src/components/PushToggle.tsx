import { useEffect, useId, useState } from 'react'
import { useApp } from '../AppContext'
import { errorMessage } from '../lib/format'
import { currentSubscription, disablePush, enablePush, pushSupported, vapidPublicKey } from '../lib/push'

type State =
  | { kind: 'loading' }
  | { kind: 'unsupported' }
  | { kind: 'off-at-server' }
  | { kind: 'ready'; key: string; on: boolean }

/**
 * "Notify me when I'm away": a Web Push subscription of this browser, so notifications arrive as system
 * notifications while no tab of the app is open (the server pushes only when the user has no open socket).
 */
export function PushToggle() {
  const { session } = useApp()
  const labelId = useId()
  const [state, setState] = useState<State>({ kind: 'loading' })
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<string | null>(null)

  useEffect(() => {
    if (!pushSupported()) {
      setState({ kind: 'unsupported' })
      return
    }
    let cancelled = false
    Promise.all([vapidPublicKey(window.location.origin), currentSubscription()]).then(
      ([key, subscription]) => {
        if (cancelled) return
        setState(key ? { kind: 'ready', key, on: subscription !== null } : { kind: 'off-at-server' })
      },
      (error: unknown) => {
        if (!cancelled) setProblem(errorMessage(error))
      },
    )
    return () => {
      cancelled = true
    }
  }, [])

  if (!session || state.kind === 'loading' || state.kind === 'off-at-server') return null
  if (state.kind === 'unsupported')
    return (
      <p className="herald-toggle__note" data-testid="push-unsupported">
        Push notifications are not available in this browser.
      </p>
    )

  const toggle = async () => {
    if (busy) return
    setBusy(true)
    setProblem(null)
    try {
      if (state.on) {
        await disablePush(window.location.origin, session.token)
        setState({ ...state, on: false })
      } else {
        const permission = await enablePush(window.location.origin, session.token, state.key)
        if (permission === 'granted') setState({ ...state, on: true })
        else setProblem('Notifications are blocked for this site; allow them in the browser’s site settings.')
      }
    } catch (error) {
      setProblem(errorMessage(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <div className="herald-toggle">
        <span id={labelId} className="herald-toggle__label">
          Notify me when I’m away
          <span className="herald-toggle__hint">A push to this browser while no tab of Herald is open</span>
        </span>
        <button
          type="button"
          role="switch"
          aria-checked={state.on}
          aria-busy={busy}
          aria-labelledby={labelId}
          className="herald-switch"
          onClick={() => void toggle()}
          data-testid="push-toggle"
        >
          <span className="herald-switch__thumb" aria-hidden="true" />
        </button>
      </div>
      {problem && (
        <p className="form-error" role="alert" data-testid="push-error">
          {problem}
        </p>
      )}
    </>
  )
}
