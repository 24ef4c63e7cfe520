import { useEffect, useState } from 'react'
import type { Eip1193Provider } from '../lib/chain'
import type { InjectedWallet } from '../lib/wallets'

interface AnnounceDetail {
  info?: { uuid?: string; name?: string; icon?: string; rdns?: string }
  provider?: Eip1193Provider
}

/** How long window.ethereum waits for EIP-6963 announcements before it is offered instead. */
const FALLBACK_MS = 250

/**
 * Browser wallets, discovered with EIP-6963 (every wallet announces itself, so several can coexist);
 * window.ethereum is offered only when none announced itself. `ready` turns true once the fallback had its
 * chance, so "no wallet found" is not shown too early.
 */
export function useInjectedWallets(): { wallets: InjectedWallet[]; ready: boolean } {
  const [wallets, setWallets] = useState<InjectedWallet[]>([])
  const [ready, setReady] = useState(false)

  useEffect(() => {
    const found = new Map<string, InjectedWallet>()
    const onAnnounce = (event: Event) => {
      const { info, provider } = ((event as CustomEvent).detail ?? {}) as AnnounceDetail
      if (!info?.uuid || typeof provider?.request !== 'function') return
      const id = info.rdns || info.uuid
      if (found.has(id)) return
      const icon = typeof info.icon === 'string' && info.icon.startsWith('data:image/') ? info.icon : null
      found.set(id, { id, name: info.name || 'Browser wallet', icon, provider })
      setWallets([...found.values()])
    }
    window.addEventListener('eip6963:announceProvider', onAnnounce)
    window.dispatchEvent(new Event('eip6963:requestProvider'))
    const timer = setTimeout(() => {
      const legacy = (window as { ethereum?: Eip1193Provider & { isMetaMask?: boolean } }).ethereum
      if (found.size === 0 && legacy && typeof legacy.request === 'function')
        setWallets([
          {
            id: 'injected',
            name: legacy.isMetaMask ? 'MetaMask' : 'Browser wallet',
            icon: null,
            provider: legacy,
          },
        ])
      setReady(true)
    }, FALLBACK_MS)
    return () => {
      clearTimeout(timer)
      window.removeEventListener('eip6963:announceProvider', onAnnounce)
    }
  }, [])

  return { wallets, ready }
}
