import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** A real HTTP/1.1 upgrade request with extra headers; the status, headers and (for a refusal) the body. */
export function rawUpgrade(wsUrl: string, extra: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(wsUrl)
  return new Promise((resolve, reject) => {
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
