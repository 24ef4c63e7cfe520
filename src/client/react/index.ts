export {
  BrowserNotificationsToggle,
  type BrowserNotificationsToggleProps,
} from './components/BrowserNotificationsToggle'
export { ConnectionStatus } from './components/ConnectionStatus'
export { formatFullDate, formatRelativeTime } from './components/formatRelativeTime'
export { NotificationBell, type NotificationBellProps } from './components/NotificationBell'
export { NotificationCenter, type NotificationCenterProps } from './components/NotificationCenter'
export { NotificationIcon } from './components/NotificationIcon'
export { RelativeTime, type RelativeTimeProps } from './components/RelativeTime'
export { Toasts, type ToastsProps } from './components/Toasts'
export { HeraldProvider, type HeraldProviderProps } from './HeraldProvider'
export { mergeTransfers, transferProgress } from './transfersState'
export {
  type ChannelViewState,
  type UseChannelOptions,
  type UseChannelResult,
  useChannel,
} from './useChannel'
export { useConnectionState } from './useConnectionState'
export { type DataUpdate, useDataUpdates } from './useDataUpdates'
export { useHeraldClient } from './useHeraldClient'
export { type UseJobStatusResult, useJobStatus } from './useJobStatus'
export {
  type UseNotificationsOptions,
  type UseNotificationsResult,
  useNotifications,
} from './useNotifications'
export { type UsePreferencesResult, usePreferences } from './usePreferences'
export { type UsePresenceOptions, type UsePresenceResult, usePresence } from './usePresence'
export { type UseTransfersOptions, type UseTransfersResult, useTransfers } from './useTransfers'
export { type HeraldMessage, type UseWebSocketResult, useWebSocket } from './useWebSocket'
