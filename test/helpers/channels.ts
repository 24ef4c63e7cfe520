import type { Publication } from '../../src/shared/protocol'
import { bearer } from './wallet'
import type { TestSocket } from './wsClient'

// Channels as a test drives them: the admin routes (publish, subscription tokens) and a socket's subscribe,
// each answered by its own message.

type Message = TestSocket['messages'][number]

/** POST /api/admin/channels/:channel/publications; returns the response. */
export function adminPublish(
  url: string,
  adminKey: string,
  channel: string,
  data: unknown,
): Promise<Response> {
  return fetch(`${url}/api/admin/channels/${encodeURIComponent(channel)}/publications`, {
    method: 'POST',
    headers: { ...bearer(adminKey), 'content-type': 'application/json' },
    body: JSON.stringify({ data }),
  })
}

/** Publishes through the admin API and returns the stored publication; throws on anything but 201. */
export async function publishOn(
  url: string,
  adminKey: string,
  channel: string,
  data: unknown,
): Promise<Publication> {
  const response = await adminPublish(url, adminKey, channel, data)
  if (response.status !== 201)
    throw new Error(`publish on ${channel}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { publication: Publication }).publication
}

/** POST /api/admin/channel-tokens; returns the response. */
export function requestChannelToken(
  url: string,
  adminKey: string,
  body: Record<string, unknown>,
): Promise<Response> {
  return fetch(`${url}/api/admin/channel-tokens`, {
    method: 'POST',
    headers: { ...bearer(adminKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** A subscription token for `userId` on `channel`; throws on anything but 201. */
export async function channelToken(
  url: string,
  adminKey: string,
  userId: string,
  channel: string,
  ttlSeconds?: number,
): Promise<string> {
  const response = await requestChannelToken(url, adminKey, { userId, channel, ttlSeconds })
  if (response.status !== 201) throw new Error(`channel token: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { token: string }).token
}

/** The answer to a channel message on `channel`: the first of `types`, or an error about that channel. */
export function answerOn(socket: TestSocket, channel: string, types: string[], timeoutMs = 5000) {
  return socket.next(
    (m: Message) =>
      (types.includes(m.type) || m.type === 'error') && (m as { channel?: unknown }).channel === channel,
    timeoutMs,
  )
}

/** Sends subscribe and waits for its answer (subscribed, channel_reset or an error naming the channel). */
export function subscribe(
  socket: TestSocket,
  channel: string,
  options: { since?: number; token?: string; answerAs?: string } = {},
) {
  socket.send({ type: 'subscribe', channel, since: options.since, token: options.token })
  return answerOn(socket, options.answerAs ?? channel, ['subscribed', 'channel_reset'])
}

export const publicationsOf = (socket: TestSocket, channel: string): Publication[] =>
  socket.messages.filter(
    (m) => m.type === 'publication' && (m as unknown as Publication).channel === channel,
  ) as unknown as Publication[]

export const publicationSeqs = (socket: TestSocket, channel: string) =>
  publicationsOf(socket, channel).map((p) => p.seq)

/** Sends ping and waits for pong: the socket is open and has handled everything sent before. */
export async function stillOpen(socket: TestSocket) {
  socket.send({ type: 'ping' })
  await socket.next('pong')
}
