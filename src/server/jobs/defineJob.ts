import type { Static, TSchema } from '@sinclair/typebox'
import type { Hex, TransactionReceipt } from 'viem'
import type { EventTransaction } from '../bus/transact'

/** A step a running job reports (docs/protocol.md §5): it reaches the owner live, and `GET /api/jobs/:id`. */
export interface JobProgress {
  step: string
  done?: number
  total?: number
  message?: string
}

/** A notification a job sends its owner; `key` names it within the job, so a retried job sends it once. */
export interface JobNotification {
  key: string
  type: string
  title: string
  message: string
  data?: unknown
}

/** A transaction a job sends from Herald's deployer key; `key` names it within the job (one per key). */
export interface JobTransactionRequest {
  key: string
  to?: Hex
  data?: Hex
  value?: bigint
}

/** A transaction as signed and recorded before its broadcast. */
export interface SentTransaction {
  hash: Hex
  nonce: number
  /** The signed bytes, broadcast again if a node loses them. */
  raw: Hex
}

/** What a job's `run` is given besides its input. */
export interface JobContext {
  readonly jobId: string
  /** The owner: progress, notifications and the job's status go to this user. */
  readonly userId: string
  /** 1 on the first attempt; a retry after a crash or an error runs `run` again from the start. */
  readonly attempt: number
  /**
   * Aborted when the job is cancelled (`POST /api/jobs/:id/cancel`) or its process shuts down. A job that
   * stops on it ends `cancelled` (cancellation) or is retried elsewhere (shutdown).
   */
  readonly signal: AbortSignal
  /** Sends `job_status` with `progress` to the owner on every instance; updates stay in order. */
  progress(progress: JobProgress): Promise<void>
  /** Stores and pushes a notification to the owner, at most once per job and key, however often retried. */
  notify(notification: JobNotification): Promise<void>
  /**
   * Runs `fn` once per job and key and stores its (JSON) result: a retry returns the stored result without
   * running `fn` again. A crash while `fn` runs runs it again on the retry, so `fn` itself should be safe to
   * repeat until it returns (or be a single database write).
   */
  step<T>(key: string, fn: () => Promise<T>): Promise<T>
  /**
   * Signs, records and then broadcasts a transaction, exactly once per job and key across crashes and retries
   * (a retry gets the recorded one back and re-broadcasts its bytes if the node lost them). Nonces come from
   * one lock per sender, so concurrent jobs in any number of processes never collide.
   */
  sendTransaction(request: JobTransactionRequest): Promise<SentTransaction>
  /**
   * Waits until a sent transaction has `confirmations` blocks (default: the chain's setting), re-broadcasting
   * it through reorganisations; `onConfirmation` hears each new count.
   */
  waitForTransaction(
    sent: SentTransaction,
    options?: { confirmations?: number; onConfirmation?: (count: number) => void | Promise<void> },
  ): Promise<TransactionReceipt>
}

/** A job type: its input schema, its retry policy and its body. */
export interface JobDefinition<S extends TSchema = TSchema, R = unknown> {
  /** The job's `type` (lower case letters, digits and `_`). */
  name: string
  /** Checked when the job is started: input that fails it is refused with 422 naming the field. */
  input: S
  /** Retries after a failed attempt (default 2). */
  retries?: number
  /** One attempt's limit in seconds (default 300); a longer attempt is abandoned and retried. */
  timeoutSeconds?: number
  /** Whether users may start it with `POST /api/jobs` (default false: only the server, `jobs.start`). */
  userStartable?: boolean
  /** Server-side: checks the schema cannot express; throws a HeraldError INVALID_INPUT (422) naming the field. */
  validate?(input: Static<S>): void
  /** Server-side: the job sends transactions, so without a chain it is refused (503) instead of queued. */
  requiresChain?: boolean
  /** The job's body; its resolved value (JSON) becomes the job's `result`. */
  run(input: Static<S>, ctx: JobContext): Promise<R>
  /**
   * Server-side: runs in the transaction that marks the job completed (and only if it is still running), with
   * what `run` resolved to; it returns the stored result. What must commit with the completion goes here.
   */
  complete?(
    transaction: EventTransaction,
    result: R,
    job: { jobId: string; userId: string },
  ): Promise<unknown>
  /** Server-side: runs in the transaction that marks the job failed for good (a notification, say). */
  fail?(
    transaction: EventTransaction,
    reason: string,
    job: { jobId: string; userId: string; input: Static<S> },
  ): Promise<void>
}

/**
 * Thrown by `run` to end the job `cancelled` with a result (what it did before it stopped, say); any other
 * rejection after a cancellation ends it `cancelled` without one.
 */
export class JobCancelled extends Error {
  readonly result: unknown
  constructor(result?: unknown) {
    super('The job was cancelled.')
    this.name = 'JobCancelled'
    this.result = result ?? null
  }
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/

/** Declares a job type; the list of them goes to `startHerald` (`StartOptions.jobs`) or `createHerald`. */
export function defineJob<S extends TSchema, R>(definition: JobDefinition<S, R>): JobDefinition<S, R> {
  if (!NAME.test(definition.name))
    throw new Error(`defineJob: name "${definition.name}" must be lower case letters, digits and _.`)
  const retries = definition.retries ?? DEFAULT_RETRIES
  const timeoutSeconds = definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS
  if (!Number.isInteger(retries) || retries < 0 || retries > 100)
    throw new Error(`defineJob(${definition.name}): retries must be a whole number 0–100.`)
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 86_400)
    throw new Error(`defineJob(${definition.name}): timeoutSeconds must be a whole number 1–86400.`)
  return { ...definition, retries, timeoutSeconds, userStartable: definition.userStartable ?? false }
}

export const DEFAULT_RETRIES = 2
export const DEFAULT_TIMEOUT_SECONDS = 300

/** Any job definition, whatever its input and result. */
// biome-ignore lint/suspicious/noExplicitAny: a list of definitions holds every input and result type
export type AnyJobDefinition = JobDefinition<any, any>
