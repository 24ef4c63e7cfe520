import { type Declaration, variable } from '../declaration'
import { boolean, chainIds, integer, privateKey, url } from '../kinds'

const DAY = 86_400

/** The variables of the chain, jobs and the transfer watcher (README order; see ../variables.ts for how to add one). */
export const chainVariables = [
  variable({
    name: 'CHAIN_RPC_URL',
    field: 'chainRpcUrl',
    kind: url(['http:', 'https:', 'ws:', 'wss:']),
    unset: 'see LOCAL_CHAIN',
    doc: 'JSON-RPC endpoint of the chain tokens are deployed on',
  }),
  variable({
    name: 'LOCAL_CHAIN',
    field: 'localChain',
    kind: boolean,
    default: true,
    doc: 'with no CHAIN_RPC_URL: spawn anvil (state in DATA_DIR), or false to run without a chain',
  }),
  variable({
    name: 'CHAIN_ID',
    field: 'chainId',
    kind: integer(1, Number.MAX_SAFE_INTEGER),
    unset: "the chain's own id",
    doc: 'expected chain id; start-up fails if the RPC reports another',
  }),
  variable({
    name: 'SIWE_CHAIN_IDS',
    field: 'siweChainIds',
    kind: chainIds,
    unset: 'CHAIN_ID',
    doc: 'chain ids accepted in SIWE messages',
  }),
  variable({
    name: 'DEPLOYER_PRIVATE_KEY',
    field: 'deployerPrivateKey',
    kind: privateKey,
    unset: 'anvil dev account 0',
    doc: 'key that deploys tokens and pays for their gas',
  }),
  variable({
    name: 'WATCHER_REORG_WINDOW',
    field: 'watcherReorgWindow',
    kind: integer(1, 10_000),
    default: 128,
    doc: 'block hashes the transfer watcher keeps below its tip to find a fork; deeper reorganisations are reported',
  }),
  variable({
    name: 'TX_BLOCK_CONFIRMATIONS_REQUIRED',
    field: 'confirmations',
    kind: integer(1, 'WATCHER_REORG_WINDOW'),
    default: 1,
    doc: 'blocks a deployment or transfer needs to count (its own is the first); a real chain needs more',
  }),
  variable({
    name: 'JOB_RETRY_LIMIT',
    field: 'jobRetryLimit',
    kind: integer(0, 100),
    default: 3,
    doc: 'retries of a failed job (exponential backoff) before it fails for good',
  }),
  variable({
    name: 'JOB_TIMEOUT_SECONDS',
    field: 'jobTimeoutSeconds',
    kind: integer(1, DAY),
    default: 300,
    doc: 'a job running longer is abandoned and retried',
  }),
  variable({
    name: 'JOB_CONCURRENCY',
    field: 'jobConcurrency',
    kind: integer(1, 100),
    default: 4,
    doc: 'jobs of each type one worker process runs at once, whether they arrive one by one or together',
  }),
  variable({
    name: 'CHAIN_RPC_TIMEOUT_SECONDS',
    field: 'chainRpcTimeoutSeconds',
    kind: integer(1, 600),
    default: 15,
    doc: 'one chain RPC request fails after this long (tried 3 times), so a hung node cannot stall a job',
  }),
  variable({
    name: 'SHUTDOWN_TIMEOUT_SECONDS',
    field: 'shutdownTimeoutSeconds',
    kind: integer(0, 3600),
    default: 15,
    doc: 'on SIGTERM: time running jobs get to finish before they are handed back (exit 1 if 15 s more pass)',
  }),
  variable({
    name: 'WATCHER_INTERVAL_MS',
    field: 'watcherIntervalMs',
    kind: integer(50, 3_600_000),
    default: 1000,
    doc: 'how often the transfer watcher polls the chain',
  }),
  variable({
    name: 'WATCHER_MAX_BLOCK_RANGE',
    field: 'watcherMaxBlockRange',
    kind: integer(1, 100_000),
    default: 500,
    doc: 'most blocks the transfer watcher reads in one request',
  }),
] satisfies readonly Declaration[]
