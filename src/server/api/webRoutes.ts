import { existsSync, statSync } from 'node:fs'
import { join, normalize, resolve, sep } from 'node:path'
import { Elysia } from 'elysia'
import { HeraldError } from '../errors'

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Herald</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>Herald is running</h1><p>The web app has not been built. Run <code>npm run build:web</code> (npm install does
it for you) and reload. The API is at <a href="/openapi">/openapi</a>.</p></body>`

// The server's own namespaces never fall back to the app: an unknown API route stays a JSON 404.
const RESERVED = /^(api|ws|health|metrics|openapi)(\/|$)/
// A request for a file (anything under assets/, or a last segment with an extension such as .js or .png) that
// does not exist is a 404: answering the app's HTML with 200 would hand a page to a <script> or a service
// worker's cache as if it were the file. Only navigations (client-side routes) fall back to index.html.
const FILE_LIKE = /^assets\/|\.[A-Za-z0-9]{1,12}$/

/**
 * The web app (web/dist): files as they are; a missing file (under assets/ or with an extension) is a 404; any
 * other path under / falls back to index.html so client-side routes survive a reload. Its HTML carries
 * `contentSecurityPolicy`, given the request's Host.
 */
export function webRoutes(dir: string, contentSecurityPolicy: (host: string | null) => string) {
  const root = resolve(dir)
  const index = join(root, 'index.html')
  return new Elysia({ name: 'herald/web' }).get(
    '/*',
    ({ params, set, headers }) => {
      const path = params['*'] ?? ''
      if (RESERVED.test(path)) throw new HeraldError('NOT_FOUND', 'No such route.')
      let decoded: string
      try {
        decoded = decodeURIComponent(path)
      } catch {
        throw new HeraldError('NOT_FOUND', 'No such route.')
      }
      if (!existsSync(index)) {
        if (FILE_LIKE.test(decoded)) throw new HeraldError('NOT_FOUND', `No such file: /${decoded}`)
        set.headers['content-type'] = 'text/html; charset=utf-8'
        set.headers['content-security-policy'] = contentSecurityPolicy(headers.host ?? null)
        return NOT_BUILT
      }
      const file = normalize(join(root, decoded))
      if (
        path &&
        (file === root || file.startsWith(root + sep)) &&
        existsSync(file) &&
        statSync(file).isFile()
      ) {
        // Vite puts content hashes in asset names: those never change. The service worker is checked for a
        // new version on every load, so a fix to it reaches browsers at once.
        set.headers['cache-control'] = path.startsWith('assets/')
          ? 'public, max-age=31536000, immutable'
          : path === 'sw.js'
            ? 'no-cache'
            : 'public, max-age=300'
        if (file.endsWith('.html'))
          set.headers['content-security-policy'] = contentSecurityPolicy(headers.host ?? null)
        return Bun.file(file)
      }
      if (FILE_LIKE.test(decoded)) throw new HeraldError('NOT_FOUND', `No such file: /${decoded}`)
      set.headers['cache-control'] = 'no-cache'
      set.headers['content-security-policy'] = contentSecurityPolicy(headers.host ?? null)
      return Bun.file(index)
    },
    { detail: { hide: true } },
  )
}
