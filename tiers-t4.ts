let t = performance.now()
const lap = (w: string) => { console.log(w, Math.round(performance.now() - t)); t = performance.now() }
const { startTestServer } = await import('./test/helpers/testServer')
lap('import')
const { createTestDatabase } = await import('./test/helpers/testDatabase')
const d = await createTestDatabase(); lap('first db'); await d.close()
const s = await startTestServer(); lap('server'); await s.stop(); lap('stop')
const s2 = await startTestServer(); lap('server2'); await s2.stop(); lap('stop2')
