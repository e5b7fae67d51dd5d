import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { RateLimitedError } from './errors.js'
import { FramedStream, type FrameLimits } from './framed-stream.js'
import { PeerRateLimiter, type RateLimitOptions } from './rate-limiter.js'

/**
 * Serves one inbound stream. Read the request with `stream.read()`, answer with `stream.write()` (as many
 * frames as needed: a streaming response), or return the single answer. When the handler returns the
 * stream's write end is closed; when it throws, the peer receives an ERROR frame (an `InfraxaError` keeps
 * its code and short message, anything else becomes `ERR_INTERNAL`).
 */
export type ProtocolHandler = (
  stream: FramedStream,
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that answer with write() return nothing.
) => Promise<Uint8Array | undefined | void> | Uint8Array | undefined | void

/** Limits of a protocol served with `node.handle`. */
export interface HandleOptions extends FrameLimits {
  /**
   * Streams of this protocol a single connection may have open at once (libp2p's default of 32 fails
   * bursts of concurrent requests). Beyond it new streams are reset.
   *
   * @default 1024
   */
  maxInboundStreams?: number
  /**
   * Streams of this protocol this node may open on one connection at once.
   *
   * @default 1024
   */
  maxOutboundStreams?: number
  /**
   * Per-peer token bucket on new streams; a peer over its budget gets an ERROR frame
   * (`ERR_RATE_LIMITED`, with `retryAfterMs`) while other peers keep being served. `false` disables it.
   *
   * @default { burst: 1024, perSecond: 512 }
   */
  rateLimit?: RateLimitOptions | false
}

/** Default of {@link HandleOptions.maxInboundStreams} and {@link HandleOptions.maxOutboundStreams}. */
export const DEFAULT_MAX_PROTOCOL_STREAMS = 1024

/** Hooks the node runs for each accepted stream. */
export interface InboundHooks {
  /** Called with the connection of every stream that passed the rate limit. */
  onAccepted?(connection: Connection): void
}

/**
 * Wraps a {@link ProtocolHandler} as a libp2p stream handler: frames the stream, applies the per-peer
 * rate limit, runs the handler, and reports failures to the peer as ERROR frames.
 */
export function createStreamHandler(
  handler: ProtocolHandler,
  options: HandleOptions = {},
  hooks: InboundHooks = {},
): StreamHandler {
  const limiter = options.rateLimit === false ? undefined : new PeerRateLimiter(options.rateLimit ?? {})
  const limits: FrameLimits = {
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    ...(options.readTimeoutMs !== undefined ? { readTimeoutMs: options.readTimeoutMs } : {}),
    ...(options.writeTimeoutMs !== undefined ? { writeTimeoutMs: options.writeTimeoutMs } : {}),
  }
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const framed = new FramedStream(stream, connection, limits)
    try {
      const verdict = limiter?.take(connection.remotePeer.toString())
      if (verdict !== undefined && !verdict.allowed) {
        await framed.fail(new RateLimitedError(verdict.retryAfterMs))
        return
      }
      hooks.onAccepted?.(connection)
      const answer = await handler(framed)
      if (answer instanceof Uint8Array) await framed.write(answer)
      await framed.closeWrite()
    } catch (error) {
      await framed.fail(error)
    } finally {
      framed.dispose()
    }
  }
}
