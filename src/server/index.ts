// herald/server: Herald inside your Bun + Elysia app, or on its own port (docs/protocol.md §9, README "Use Herald
// in your app").
export {
  type CreateHeraldOptions,
  createHerald,
  type Herald,
  type ServedHerald,
  serveHerald,
} from './compose/createHerald'
export type { Config, ConfigVariableName } from './config/loadConfig'
export { ConfigError, HeraldError } from './errors'
export {
  type AnyJobDefinition,
  defineJob,
  JobCancelled,
  type JobContext,
  type JobDefinition,
  type JobNotification,
  type JobProgress,
  type JobTransactionRequest,
  type SentTransaction,
} from './jobs/defineJob'
// A failure no retry can fix: the job fails at once, with this message as its error.
export { JobFailure } from './jobs/JobFailure'
