// herald/admin in the consumer project under Node 20: one notification to HERALD_USER_ID, printed with Node's version.
import { createHeraldAdmin } from 'herald/admin'

const admin = createHeraldAdmin({ url: process.env.HERALD_URL, adminKey: process.env.HERALD_ADMIN_KEY })
const result = await admin.notify({
  userId: process.env.HERALD_USER_ID,
  type: 'from_node',
  title: 'From Node',
  message: 'published with herald/admin',
})
console.log(JSON.stringify({ ...result, node: process.versions.node }))
