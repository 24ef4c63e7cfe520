import { PGlite } from '@electric-sql/pglite'
import { writeFileSync, readFileSync, existsSync } from 'node:fs'
let t = performance.now()
const lap = (w: string) => { console.log(w, Math.round(performance.now() - t)); t = performance.now() }
if (process.argv[2] === 'load' && existsSync('/tmp/tiers-dump.tar')) {
  const b = new Blob([readFileSync('/tmp/tiers-dump.tar')]); lap('read')
  const c = await PGlite.create({ loadDataDir: b }); lap('create from dump'); await c.close()
  const c2 = await PGlite.create({ loadDataDir: b }); lap('create from dump 2'); await c2.close()
} else {
  const a = await PGlite.create({}); lap('create fresh 1')
  writeFileSync('/tmp/tiers-dump.tar', new Uint8Array(await (await a.dumpDataDir('none')).arrayBuffer())); lap('dump')
  await a.close()
  const b = await PGlite.create({}); lap('create fresh 2'); await b.close()
}
