import { existsSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { createWalletClient, type Hex, http, type PrivateKeyAccount } from 'viem'

/** Debian's Chromium: the only browser the tests use (never a downloaded one). */
export const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'
export const hasChromium = () => existsSync(CHROMIUM)
/** CI sets this so a missing browser fails the run instead of skipping the browser tests. */
export const browserRequired = () => process.env.HERALD_REQUIRE_BROWSER === '1'
export const skipBrowserTests = () => {
  if (hasChromium()) return false
  if (browserRequired()) throw new Error(`HERALD_REQUIRE_BROWSER=1 but ${CHROMIUM} does not exist`)
  return true
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/**
 * A page with a test wallet: an EIP-1193 provider injected before any script runs (and announced through
 * EIP-6963), answered in the test process by a viem private-key account through exposeFunction. Reads go to
 * the chain's RPC; signing happens with the account, as a real wallet would.
 */
export async function openWalletPage(
  browser: Browser,
  params: { account: PrivateKeyAccount; rpcUrl: string; chainId: number; name?: string },
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  const page = await context.newPage()
  await exposeWallet(page, params)
  return page
}

export async function exposeWallet(
  page: Page,
  params: { account: PrivateKeyAccount; rpcUrl: string; chainId: number; name?: string },
): Promise<void> {
  const { account, rpcUrl, chainId } = params
  const wallet = createWalletClient({ account, transport: http(rpcUrl) })
  const rpc = async (method: string, rpcParams: unknown) => {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: rpcParams ?? [] }),
    })
    const body = (await response.json()) as { result?: unknown; error?: { message: string; code: number } }
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code })
    return body.result
  }
  await page.exposeFunction('__heraldTestWallet', async (method: string, rpcParams: unknown[] = []) => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [account.address]
      case 'eth_chainId':
        return `0x${chainId.toString(16)}`
      case 'net_version':
        return String(chainId)
      case 'wallet_switchEthereumChain':
      case 'wallet_addEthereumChain':
      case 'wallet_requestPermissions':
        return null
      case 'personal_sign':
        return account.signMessage({ message: { raw: rpcParams[0] as Hex } })
      case 'eth_sendTransaction': {
        const tx = rpcParams[0] as { to?: Hex; data?: Hex; value?: Hex; gas?: Hex }
        return wallet.sendTransaction({
          chain: null,
          to: tx.to,
          data: tx.data,
          value: tx.value ? BigInt(tx.value) : undefined,
          gas: tx.gas ? BigInt(tx.gas) : undefined,
        })
      }
      default:
        return rpc(method, rpcParams)
    }
  })
  await page.addInitScript(
    ({ address, name }) => {
      type Listener = (...args: unknown[]) => void
      const listeners = new Map<string, Set<Listener>>()
      const provider = {
        isHeraldTestWallet: true,
        async request({ method, params }: { method: string; params?: unknown[] }) {
          try {
            return await (
              window as unknown as { __heraldTestWallet: (m: string, p?: unknown[]) => Promise<unknown> }
            ).__heraldTestWallet(method, params)
          } catch (error) {
            throw Object.assign(new Error((error as Error).message), { code: 4001 })
          }
        },
        on(event: string, listener: Listener) {
          if (!listeners.has(event)) listeners.set(event, new Set())
          listeners.get(event)!.add(listener)
        },
        removeListener(event: string, listener: Listener) {
          listeners.get(event)?.delete(listener)
        },
      }
      ;(window as unknown as { ethereum: unknown }).ethereum = provider
      const info = {
        uuid: '00000000-0000-4000-8000-000000000001',
        name,
        icon: 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg"/>',
        rdns: 'dev.herald.testwallet',
      }
      const announce = () =>
        window.dispatchEvent(
          new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }),
        )
      window.addEventListener('eip6963:requestProvider', announce)
      announce()
      void address
    },
    { address: account.address, name: params.name ?? 'Test Wallet' },
  )
}
