import { InfraxaError } from '@infraxa/protocol'
import {
  AbortedError,
  PeerUnreachableError,
  StreamClosedError,
  TimeoutError,
  TooManyStreamsError,
  UnsupportedProtocolError,
} from './errors.js'

/** What was being attempted when a libp2p call failed. */
export interface FailureContext {
  /** The peer (id or address) as the caller named it. */
  peer: string
  /** The protocol being opened, for stream failures. */
  protocol?: string
  /** The caller's signal: when it fired, the failure is an {@link AbortedError}. */
  signal?: AbortSignal | undefined
  /** The limit that applied, for timeouts. */
  timeoutMs: number
}

function describe(cause: unknown): string {
  if (cause instanceof AggregateError && cause.errors.length > 0) {
    return cause.errors.map((error) => describe(error)).join('; ')
  }
  return cause instanceof Error ? cause.message || cause.name : String(cause)
}

/** Maps a failure of `libp2p.dial` to {@link PeerUnreachableError} (or {@link AbortedError}). */
export function dialFailure(cause: unknown, context: FailureContext): InfraxaError {
  if (cause instanceof InfraxaError) return cause
  if (context.signal?.aborted)
    return new AbortedError(`dialling ${context.peer}`, { cause: context.signal.reason })
  const name = cause instanceof Error ? cause.name : ''
  const reason =
    name === 'TimeoutError' || name === 'AbortError'
      ? `no connection within ${context.timeoutMs} ms`
      : describe(cause)
  return new PeerUnreachableError(context.peer, reason, { cause })
}

/** Maps a failure of `connection.newStream` (protocol negotiation) to a transport error. */
export function openStreamFailure(cause: unknown, context: FailureContext): InfraxaError {
  if (cause instanceof InfraxaError) return cause
  const protocol = context.protocol ?? 'the protocol'
  if (context.signal?.aborted)
    return new AbortedError(`opening ${protocol}`, { cause: context.signal.reason })
  const name = cause instanceof Error ? cause.name : ''
  switch (name) {
    case 'UnsupportedProtocolError':
      return new UnsupportedProtocolError(context.peer, protocol, { cause })
    case 'TooManyOutboundProtocolStreamsError':
      return new TooManyStreamsError(protocol, { cause })
    case 'TimeoutError':
    case 'AbortError':
      return new TimeoutError(`opening ${protocol} with ${context.peer}`, context.timeoutMs, { cause })
    default:
      return new StreamClosedError(`opening ${protocol} with ${context.peer} failed: ${describe(cause)}`, {
        cause,
      })
  }
}

/** Whether a stream could not be opened because the connection went away (worth one redial). */
export function isConnectionGone(cause: unknown): boolean {
  const name = cause instanceof Error ? cause.name : ''
  return name === 'ConnectionClosedError' || name === 'ConnectionClosingError' || name === 'MuxerClosedError'
}
