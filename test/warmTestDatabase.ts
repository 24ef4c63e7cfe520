import { migratedPgliteDump } from './helpers/testDatabase'

// `npm test` runs this before its two worker processes start: on a fresh clone the migrated PGlite dump is made
// once here, instead of by both workers at once (initdb twice, in the first test of each, on a busy machine).
// Nothing to do against PostgreSQL, or when the dump is cached already.
if (!process.env.HERALD_TEST_DATABASE_URL) await migratedPgliteDump()
