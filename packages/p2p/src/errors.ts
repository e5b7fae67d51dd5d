/**
 * Errors of the transport layer. Every one extends {@link InfraxaError}, so it has a stable `code`, a
 * `shortMessage` and optional `details` saying what to do.
 *
 * Errors a peer caused (a frame too large, garbage bytes, a stalled frame, a flood) are also sent to it
 * as an ERROR frame (see `frame.ts`); the peer raises them as a `RemoteError` with the same `code`.
 */
import { InfraxaError, type InfraxaErrorOptions } from '@infraxa/protocol'

/** A frame did not arrive (or could not be sent) within the configured time. Sent to the peer. */
export class TimeoutError extends InfraxaError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number
  constructor(what: string, timeoutMs: number, options: InfraxaErrorOptions = {}) {
    super('ERR_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, {
      details:
        'The peer is slow, stalled or gone. Retry, or raise readTimeoutMs/writeTimeoutMs on both peers.',
      ...options,
    })
    this.timeoutMs = timeoutMs
  }
}

/** A frame's declared length exceeds the protocol's `maxFrameBytes`. Sent to the peer. */
export class FrameTooLargeError extends InfraxaError {
  /** Declared (or attempted) payload size in bytes. */
  readonly size: number
  /** The limit in bytes. */
  readonly limit: number
  constructor(size: number, limit: number) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${limit} bytes`, {
      details: 'Split the payload into several frames, or raise maxFrameBytes on both peers.',
    })
    this.size = size
    this.limit = limit
  }
}

/** The bytes on a stream are not valid frames (unknown frame type, bad length, truncated). Sent to the peer. */
export class MalformedFrameError extends InfraxaError {
  constructor(reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_MALFORMED_FRAME', `malformed frame: ${reason}`, options)
  }
}

/** The peer sent more requests than its token bucket allows. Sent to the peer with `retryAfterMs`. */
export class RateLimitedError extends InfraxaError {
  /** When the peer may try again, in milliseconds. */
  readonly retryAfterMs: number
  constructor(retryAfterMs: number) {
    super('ERR_RATE_LIMITED', `too many requests, retry after ${retryAfterMs} ms`, {
      details: 'Slow down: this peer answers a limited number of streams per second per peer.',
    })
    this.retryAfterMs = retryAfterMs
  }
}

/** No connection could be opened to the peer (no address, refused, unreachable, dial timeout). */
export class PeerUnreachableError extends InfraxaError {
  /** The peer (id or address) that was dialled. */
  readonly peer: string
  constructor(peer: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_PEER_UNREACHABLE', `cannot reach peer ${peer}: ${reason}`, {
      details: 'Check the peer is running and its address is right; find it again through the DHT or mDNS.',
      ...options,
    })
    this.peer = peer
  }
}

/** The peer is reachable but does not speak the requested protocol. */
export class UnsupportedProtocolError extends InfraxaError {
  readonly peer: string
  readonly protocol: string
  constructor(peer: string, protocol: string, options: InfraxaErrorOptions = {}) {
    super('ERR_UNSUPPORTED_PROTOCOL', `peer ${peer} does not support ${protocol}`, {
      details: 'The peer runs another version or role (router/provider) than expected.',
      ...options,
    })
    this.peer = peer
    this.protocol = protocol
  }
}

/** The stream was closed or reset before the exchange finished. */
export class StreamClosedError extends InfraxaError {
  constructor(reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_STREAM_CLOSED', `stream closed: ${reason}`, options)
  }
}

/** This node already has the maximum number of streams of this protocol open on the connection. */
export class TooManyStreamsError extends InfraxaError {
  constructor(protocol: string, options: InfraxaErrorOptions = {}) {
    super('ERR_TOO_MANY_STREAMS', `too many concurrent ${protocol} streams on one connection`, {
      details: 'Wait for some requests to finish, or raise maxOutboundStreams / maxInboundStreams.',
      ...options,
    })
  }
}

/** The caller's AbortSignal fired. `cause` holds the signal's reason. */
export class AbortedError extends InfraxaError {
  constructor(what: string, options: InfraxaErrorOptions = {}) {
    super('ERR_ABORTED', `${what} aborted`, options)
  }
}

/** The key file in the data directory exists but is not a usable Ed25519 key. It is never replaced. */
export class InvalidKeyFileError extends InfraxaError {
  /** Path of the offending file. */
  readonly path: string
  constructor(path: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_INVALID_KEY_FILE', `invalid node key file ${path}: ${reason}`, {
      details:
        'The node identity (PeerId) lives in this file and is never replaced automatically. Restore it ' +
        'from a backup, or move it away to start with a new identity (peers will see a new PeerId).',
      ...options,
    })
    this.path = path
  }
}

/** A listen address could not be bound (in use, not this machine's, not permitted). */
export class ListenError extends InfraxaError {
  /** Each address that failed, with the system's reason (e.g. `EADDRINUSE: address already in use …`). */
  readonly failures: ReadonlyArray<{ address: string; reason: string }>
  constructor(
    failures: ReadonlyArray<{ address: string; reason: string }>,
    options: InfraxaErrorOptions = {},
  ) {
    super(
      'ERR_LISTEN',
      `cannot listen on ${failures.map((f) => `${f.address} (${f.reason})`).join(', ') || 'the listen addresses'}`,
      {
        details:
          'Choose another listen address (port 0 picks a free one), or stop the process that holds it.',
        ...options,
      },
    )
    this.failures = failures
  }
}

/** The node was used after `stop()`. */
export class NodeStoppedError extends InfraxaError {
  constructor() {
    super('ERR_NODE_STOPPED', 'the node is stopped', { details: 'Create a new node with createNode().' })
  }
}

/** A DHT operation was called on a node created with `dht: false`. */
export class DhtDisabledError extends InfraxaError {
  constructor() {
    super('ERR_DHT_DISABLED', 'the DHT is disabled on this node', {
      details: 'Create the node with `dht: true` (the default) to advertise or find providers.',
    })
  }
}

/** A capability record whose `expiresAtMs` has passed. */
export class StaleCapabilityError extends InfraxaError {
  readonly expiresAtMs: number
  constructor(peer: string, expiresAtMs: number) {
    super('ERR_STALE_CAPABILITY', `capability record of ${peer} expired at ${expiresAtMs}`, {
      details: 'The provider should refresh its record; fetch it again later.',
    })
    this.expiresAtMs = expiresAtMs
  }
}
