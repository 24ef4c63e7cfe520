import type { JobProgressReport } from '../../shared/protocol/jobStatus'
import type { JobRow } from '../db/schema'

export interface JobView {
  id: string
  type: string
  status: JobRow['status']
  data: unknown
  /** The latest progress a running job reported (docs/protocol.md §5), or null. */
  progress: JobProgressReport | null
  result: unknown | null
  error: string | null
  createdAt: string
  updatedAt: string
}

export function toJob(row: JobRow): JobView {
  return {
    id: String(row.id),
    type: row.type,
    status: row.status,
    data: row.data,
    progress: row.report ?? null,
    result: row.result ?? null,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}
