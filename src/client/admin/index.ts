// herald/admin: publishing from another backend (Bun and Node 20+).
export type * from '../../shared/protocol/index'
export {
  type CallOptions,
  createHeraldAdmin,
  type HeraldAdmin,
  HeraldAdminError,
  type HeraldAdminOptions,
} from './createHeraldAdmin'
