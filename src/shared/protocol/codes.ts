// Close codes and WebSocket error codes of the contract (docs/protocol.md §2). Plain constants, no schema
// library: the SDK and the web app load this module in browsers.

/** Close codes of the contract. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tooLarge: 1009,
  /** RFC 6455 "try again later": the server could not check the token (its database is unreachable). */
  tryAgainLater: 1013,
  unauthorized: 4001,
  rateLimited: 4008,
  slowConsumer: 4009,
  connectionLimit: 4029,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** The `code` of an `error` message. */
export const WsErrorCodes = [
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'CONNECTION_LIMIT_TOTAL_EXCEEDED',
  'CONNECTION_LIMIT_PER_USER_EXCEEDED',
  'RATE_LIMITED',
  'INVALID_MESSAGE',
  /** A `resume` or `subscribe` the server cannot serve right now: the socket stays open and the client asks again. */
  'UNAVAILABLE',
  /** No right to subscribe to, publish on or ask about a channel (docs/protocol.md §4). */
  'FORBIDDEN',
  /** A channel name that breaks the grammar or names an unknown namespace. */
  'INVALID_CHANNEL',
  /** More channels than MAX_SUBSCRIPTIONS_PER_CONNECTION on one connection. */
  'SUBSCRIPTION_LIMIT',
  /** A publication whose data is over MAX_PUBLICATION_BYTES. */
  'PAYLOAD_TOO_LARGE',
] as const
export type WsErrorCode = (typeof WsErrorCodes)[number]

/** Errors after which the same connection attempt would fail again: retrying cannot help. */
export const CONNECTION_LIMIT_ERRORS: readonly WsErrorCode[] = [
  'CONNECTION_LIMIT_TOTAL_EXCEEDED',
  'CONNECTION_LIMIT_PER_USER_EXCEEDED',
]
