// A tiny Node program publishing through herald/admin, bundled by createHeraldAdmin.test.ts with
// `bun build --target=node` and run with `node`: it publishes one notification (HERALD_URL, HERALD_ADMIN_KEY,
// HERALD_USER_ID), prints the result with Node's version and exits by itself.
import { createHeraldAdmin } from './index.ts'

const admin = createHeraldAdmin({
  url: process.env.HERALD_URL,
  adminKey: process.env.HERALD_ADMIN_KEY,
  minDelayMs: 20,
})
const result = await admin.notify({
  userId: process.env.HERALD_USER_ID,
  type: 'node.hello',
  title: 'From Node',
  message: `Published from Node ${process.versions.node}`,
})
console.log(JSON.stringify({ ...result, node: process.versions.node }))
