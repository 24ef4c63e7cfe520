import type { JobRow } from '../db/schema'

export interface JobView {
  id: string
  type: string
  status: JobRow['status']
  data: unknown
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
    result: row.result ?? null,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}
