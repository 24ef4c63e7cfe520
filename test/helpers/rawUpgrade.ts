import { connect, type Socket } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** A real HTTP/1.1 upgrade request on a bare TCP socket, with extra headers. */
function requestUpgrade(wsUrl: string, extra: Record<string, string>): Socket {
  const url = new URL(wsUrl)
  const socket = connect(Number(url.port), url.hostname, () => {
    socket.write(
      [
        `GET ${url.pathname}${url.search} HTTP/1.1`,
        `Host: ${url.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        ...Object.entries(extra).map(([name, value]) => `${name}: ${value}`),
        '',
        '',
      ].join('\r\n'),
    )
  })
  return socket
}

/** A real HTTP/1.1 upgrade request with extra headers; the status, headers and (for a refusal) the body. */
export function rawUpgrade(wsUrl: string, extra: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = requestUpgrade(wsUrl, extra)
    let received = ''
    const finish = (result: RawResponse) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine, ...lines] = received.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      )
      const status = Number(statusLine!.split(' ')[1])
      const body = received.slice(end + 4)
      if (status === 101 || body.length >= Number(headers['content-length'] ?? 0))
        finish({ status, headers, body })
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer from ${wsUrl}; got ${JSON.stringify(received)}`))
    }, 5000)
  })
}

/**
 * A real upgrade whose TCP socket the test keeps: for a peer that never answers pings, or a client that decides
 * when it reads. Resolves once the server answered 101, with the socket (paused: add a 'data' listener, then
 * resume it) and the bytes that came after the response head (the first frames); rejects on any other answer.
 */
export function rawUpgradedSocket(
  wsUrl: string,
  extra: Record<string, string> = {},
): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = requestUpgrade(wsUrl, extra)
    let head = ''
    const onHandshake = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onHandshake)
      socket.pause()
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy()
        reject(new Error(`upgrade refused: ${head}`))
        return
      }
      resolve({ socket, rest: Buffer.from(head.slice(end + 4), 'latin1') })
    }
    socket.on('data', onHandshake)
    socket.on('error', reject)
  })
}
