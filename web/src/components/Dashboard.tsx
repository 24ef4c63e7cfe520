import { useCallback, useEffect, useMemo, useState } from 'react'
import { type UseNotificationsResult, useHeraldClient } from '../../../src/client/react'
import type { Notification } from '../../../src/client/sdk'
import { useApp } from '../AppContext'
import { loadRecentJobs, type RecentJob, saveRecentJobs } from '../lib/recentJobs'
import { DeployTokenForm } from './DeployTokenForm'
import { JobProgress } from './JobProgress'
import { TokenList } from './TokenList'
import { TransferList } from './TransferList'
import { WalletCard } from './WalletCard'

/** Deployment notifications by job id: live ones (kept even if the inbox is cleared) and the inbox's. */
function useDeploymentNotifications(inbox: Notification[]) {
  const client = useHeraldClient()
  const [live, setLive] = useState<Notification[]>([])
  useEffect(
    () =>
      client.on('notification', (n) => {
        if (n.type.startsWith('token_deployment_')) setLive((list) => [n, ...list].slice(0, 200))
      }),
    [client],
  )
  return useMemo(() => {
    const byJob = new Map<string, Notification[]>()
    const seen = new Set<string>()
    for (const n of [...live, ...inbox]) {
      const jobId = (n.data as { jobId?: unknown } | null)?.jobId
      if (!n.type.startsWith('token_deployment_') || typeof jobId !== 'string' || seen.has(n.id)) continue
      seen.add(n.id)
      byJob.set(jobId, [...(byJob.get(jobId) ?? []), n])
    }
    return byJob
  }, [live, inbox])
}

const NONE: Notification[] = []

export function Dashboard({ inbox }: { inbox: UseNotificationsResult }) {
  const { session, chain } = useApp()
  const userId = session?.userId ?? ''
  const [jobs, setJobs] = useState<RecentJob[]>(() => loadRecentJobs(userId))
  const notes = useDeploymentNotifications(inbox.notifications)

  const queued = useCallback(
    (job: RecentJob) =>
      setJobs((list) => {
        const next = [job, ...list.filter((j) => j.jobId !== job.jobId)].slice(0, 5)
        saveRecentJobs(userId, next)
        return next
      }),
    [userId],
  )

  return (
    <main className="page">
      <div className="page__head">
        <h1>Dashboard</h1>
        <p className="muted">
          Deploy an ERC-20 and follow each step live. Transfers show as soon as a block includes them, and are
          notified once they are final.
        </p>
      </div>
      <div className="grid">
        <div className="grid__col">
          <DeployTokenForm onQueued={queued} />
          {jobs.length > 0 && (
            <section className="card" aria-labelledby="deployments-title">
              <div className="card__head card__head--row">
                <h2 id="deployments-title">Deployments</h2>
                <button
                  type="button"
                  className="herald-link-button"
                  onClick={() => {
                    saveRecentJobs(userId, [])
                    setJobs([])
                  }}
                  data-testid="deployments-clear"
                >
                  Clear
                </button>
              </div>
              <div className="jobs">
                {jobs.map((job) => (
                  <JobProgress key={job.jobId} job={job} notifications={notes.get(job.jobId) ?? NONE} />
                ))}
              </div>
            </section>
          )}
        </div>
        <div className="grid__col">
          <TokenList />
          {chain && <TransferList />}
          <WalletCard />
        </div>
      </div>
    </main>
  )
}
