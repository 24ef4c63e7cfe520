import type { Config } from '../config/loadConfig'

/** Bun's server-wide WebSocket settings for Herald's sockets (idle timeout, frame and buffer limits). */
export const websocketOptions = (config: Config) => ({
  idleTimeout: config.idleTimeoutSeconds,
  maxPayloadLength: config.maxFrameBytes,
  backpressureLimit: config.sendBufferLimitBytes * 2,
  closeOnBackpressureLimit: false,
  perMessageDeflate: false,
  sendPings: true,
})
