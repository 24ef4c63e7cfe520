import { Elysia, t } from 'elysia'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import { HeraldError } from '../errors'
import type { SocketManager } from './SocketManager'

type UpgradeData = { heraldSession?: AuthenticatedSession | null }

/** `/ws`: the transport side of the hub. Connection state lives in the SocketManager, keyed by ws.id. */
export function wsRoute(
  hub: SocketManager,
  authenticate: (token: string) => Promise<AuthenticatedSession | null>,
) {
  return new Elysia({ name: 'herald/ws' }).ws('/ws', {
    query: t.Object({ token: t.Optional(t.String()) }),
    // An array, so Elysia runs it once as route hook and not again inside the upgrade.
    beforeHandle: [
      async (context) => {
        const token = context.query.token
        if (token === undefined) return
        // The original design's ?token= form; an invalid token refuses the upgrade outright.
        const session = await authenticate(token)
        if (!session) throw new HeraldError('UNAUTHORIZED', 'The token is invalid, expired or revoked.')
        ;(context as unknown as UpgradeData).heraldSession = session
      },
    ],
    open(ws) {
      hub.open(ws.raw as never, ws.id, (ws.data as unknown as UpgradeData).heraldSession ?? null)
    },
    message(ws, message) {
      hub.message(ws.id, message)
    },
    close(ws) {
      hub.close(ws.id)
    },
  })
}
