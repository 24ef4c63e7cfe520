import { storage } from './storage'

export interface RecentJob {
  jobId: string
  name: string
  symbol: string
  initialSupply: string
  submittedAt: string
}

const KEEP = 5
const key = (userId: string) => `herald.jobs.${userId}`

/** The user's last few deployments, so a reload in the middle of one still shows its progress. */
export function loadRecentJobs(userId: string): RecentJob[] {
  const list = storage.getJson<RecentJob[]>(key(userId))
  return Array.isArray(list) ? list.slice(0, KEEP) : []
}

export function saveRecentJobs(userId: string, jobs: RecentJob[]): void {
  storage.setJson(key(userId), jobs.slice(0, KEEP))
}
