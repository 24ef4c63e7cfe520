import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket } from '../../../test/helpers/wsClient'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.stop()
})

describe('hub smoke', () => {
  test('connected, auth, live notification, broadcast', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const anon = connectSocket(server.wsUrl)
    await anon.next('connected')
    const res = await server.publish({ userId: session.user.id, type: 't', title: 'Hello', message: 'World' })
    expect(res.status).toBe(201)
    const n = await socket.next<{ type: 'notification'; notification: { seq: number } }>('notification')
    expect(n.notification.seq).toBe(1)
    const b = await server.broadcast({ type: 'announcement', text: 'hi' })
    expect(await b.json()).toEqual({ delivered: 2 })
    expect(await socket.next('announcement')).toEqual({ type: 'announcement', text: 'hi' })
    expect(await anon.next('announcement')).toEqual({ type: 'announcement', text: 'hi' })
    socket.close()
    anon.close()
  })
})
