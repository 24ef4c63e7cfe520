import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import '../../src/client/react/components/herald.css'
import './app.css'
import { App } from './App'
import { registerServiceWorker } from './lib/push'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
registerServiceWorker()
