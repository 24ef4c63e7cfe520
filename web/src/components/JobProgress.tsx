import type { ReactNode } from 'react'
import { RelativeTime, useJobStatus } from '../../../src/client/react'
import type { Notification } from '../../../src/client/sdk'
import { shortAddress, shortHash } from '../lib/format'
import type { RecentJob } from '../lib/recentJobs'
import { CopyButton } from './CopyButton'

type StepState = 'done' | 'active' | 'waiting' | 'failed'
interface Step {
  id: 'queued' | 'running' | 'submitted' | 'deployed'
  label: string
  state: StepState
  detail?: ReactNode
}

interface DeployResult {
  tokenId?: string
  address?: string
  txHash?: string
  blockNumber?: string | number
}

const dataOf = (n: Notification | undefined) => (n?.data ?? {}) as Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

/**
 * One deployment, live: the job's status (pending → running → completed | failed) and its notifications
 * (started, pending with the transaction hash, success with the address) as a list of steps.
 */
export function JobProgress({ job, notifications }: { job: RecentJob; notifications: Notification[] }) {
  const status = useJobStatus(job.jobId)
  const find = (suffix: string) => notifications.find((n) => n.type === `token_deployment_${suffix}`)
  const started = find('started')
  const pending = find('pending')
  const success = find('success')
  const failedNote = find('failed')

  const result = (status.result ?? (success ? dataOf(success) : null)) as DeployResult | null
  const txHash = str(dataOf(pending).txHash) ?? result?.txHash
  const address = result?.address
  const failed = status.status === 'failed' || failedNote !== undefined
  const completed = !failed && (status.status === 'completed' || success !== undefined)
  const running = status.status === 'running' || started !== undefined || txHash !== undefined || completed
  const reason = status.error ?? str(dataOf(failedNote).reason)
  const shownStatus = failed
    ? 'failed'
    : completed
      ? 'completed'
      : running
        ? 'running'
        : (status.status ?? 'pending')

  const steps: Step[] = [
    { id: 'queued', label: 'Queued', state: 'done', detail: `Job #${job.jobId}` },
    {
      id: 'running',
      label: 'Started',
      state: running ? 'done' : 'active',
      detail: running ? 'A worker picked it up' : 'Waiting for a worker',
    },
    {
      id: 'submitted',
      label: 'Transaction sent',
      state: txHash || completed ? 'done' : running ? 'active' : 'waiting',
      detail: txHash ? (
        <span className="mono" title={txHash} data-testid="job-tx-hash">
          {shortHash(txHash)}
        </span>
      ) : undefined,
    },
    {
      id: 'deployed',
      label: 'Deployed',
      state: completed ? 'done' : txHash ? 'active' : 'waiting',
      detail: address ? (
        <span className="inline-copy">
          <span className="mono" title={address} data-testid="job-token-address">
            {shortAddress(address)}
          </span>
          <CopyButton value={address} label="Copy token address" />
        </span>
      ) : txHash && !completed ? (
        status.progress?.step === 'confirming' && status.progress.total ? (
          <span data-testid="job-confirmations">
            {`Confirmations ${status.progress.done ?? 0}/${status.progress.total}`}
          </span>
        ) : (
          'Waiting for confirmation'
        )
      ) : undefined,
    },
  ]
  if (failed) {
    const at = steps.find((s) => s.state !== 'done')
    if (at) at.state = 'failed'
    for (const s of steps) if (s.state === 'active') s.state = 'waiting'
  }

  return (
    <article
      className="job"
      aria-label={`Deployment of ${job.name}`}
      data-testid="job-progress"
      data-job-id={job.jobId}
      data-status={shownStatus}
    >
      <header className="job__head">
        <div>
          <h3 className="job__title">
            {job.name} <span className="token-symbol">{job.symbol}</span>
          </h3>
          <RelativeTime date={job.submittedAt} />
        </div>
        <span className={`pill pill--${shownStatus}`} data-testid="job-status">
          {shownStatus}
        </span>
      </header>
      <ol className="steps" aria-label="Steps">
        {steps.map((step) => (
          <li
            key={step.id}
            className={`step step--${step.state}`}
            data-testid="job-step"
            data-step={step.id}
            data-state={step.state}
            aria-current={step.state === 'active' ? 'step' : undefined}
          >
            <span className="step__marker" aria-hidden="true">
              {step.state === 'done' ? '✓' : step.state === 'failed' ? '!' : ''}
            </span>
            <span className="step__body">
              <span className="step__label">
                {step.label}
                <span className="visually-hidden">
                  {step.state === 'done'
                    ? ' (done)'
                    : step.state === 'active'
                      ? ' (in progress)'
                      : step.state === 'failed'
                        ? ' (failed)'
                        : ''}
                </span>
              </span>
              {step.detail && <span className="step__detail">{step.detail}</span>}
            </span>
          </li>
        ))}
      </ol>
      {failed && (
        <p className="form-error" role="alert" data-testid="job-error">
          {reason ?? 'The deployment failed.'}
        </p>
      )}
    </article>
  )
}
