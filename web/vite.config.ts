import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// Run from the repository root: `vite --config web/vite.config.ts` (dev) or `vite build --config web/vite.config.ts`.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
// The dev server proxies the API and the socket to a Herald started with `npm start`.
const herald = process.env.HERALD_URL ?? 'http://127.0.0.1:3000'

export default defineConfig({
  root: here('.'),
  plugins: [react()],
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    // viem's chain clients are most of the bundle; one chunk loads fastest from a single origin.
    chunkSizeWarningLimit: 700,
  },
  server: {
    host: '127.0.0.1',
    // The app imports the SDK from src/ and the token ABI from src/server/chain (outside web/).
    fs: { allow: [here('..')] },
    proxy: {
      '/api': herald,
      '/health': herald,
      '/ws': { target: herald, ws: true },
    },
  },
  preview: { host: '127.0.0.1' },
  // The SDK's SharedWorker (shareAcrossTabs) is a module worker: `new SharedWorker(new URL(...), { type:
  // 'module' })` in src/client/sdk/createHeraldClient.ts. It is built as its own file under /assets/.
  worker: { format: 'es' },
})
