import {
  decodeMessage,
  encodeMessage,
  InfraxaError,
  InvalidArgumentError,
  RemoteError,
  toErrorMessage,
} from '@infraxa/protocol'
import type { Connection, PeerId, Stream, StreamCloseEvent } from '@libp2p/interface'
import {
  AbortedError,
  FrameTooLargeError,
  MalformedFrameError,
  RateLimitedError,
  StreamClosedError,
  TimeoutError,
} from './errors.js'
import { DATA_FRAME, ERROR_FRAME, encodeFrame, encodeFrameHeader, type FrameType } from './frame.js'
import { FrameReader } from './frame-reader.js'

/** Limits of one framed stream. Both ends of a protocol should agree on them. */
export interface FrameLimits {
  /**
   * Largest DATA payload in bytes, in either direction: a larger incoming frame fails the stream with
   * {@link FrameTooLargeError} (and the peer is told), a larger outgoing one is refused before sending.
   *
   * @default 1_114_112 (1 MiB + 64 KiB: fits the protocol's largest INFERENCE_FRAME)
   */
  maxFrameBytes?: number
  /**
   * Every frame must arrive completely within this many milliseconds of the read that waits for it.
   *
   * @default 10_000
   */
  readTimeoutMs?: number
  /**
   * A write that has to wait for the peer to read (back-pressure) fails after this many milliseconds.
   *
   * @default readTimeoutMs
   */
  writeTimeoutMs?: number
}

/** Default of {@link FrameLimits.maxFrameBytes}. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024 + 64 * 1024
/** Default of {@link FrameLimits.readTimeoutMs}. */
export const DEFAULT_READ_TIMEOUT_MS = 10_000

/** Options of a single read or write. */
export interface FrameIoOptions {
  /** Aborts the read or write with {@link AbortedError}. */
  signal?: AbortSignal | undefined
  /** Overrides the stream's read or write timeout for this call. */
  timeoutMs?: number | undefined
}

/** Extra fields of an ERROR frame. */
export interface ErrorFrameExtra {
  /** Job the error belongs to. */
  jobId?: Uint8Array
  /** When the peer may retry, in milliseconds. */
  retryAfterMs?: number
}

const SMALL_FRAME_BYTES = 16 * 1024
/** Longest wait for the ERROR frame and close after a failure. */
const FAIL_WRITE_TIMEOUT_MS = 2_000

/**
 * A libp2p stream carrying frames (see `frame.ts`): what a protocol handler receives and what
 * `node.openStream` returns. Reads and writes are of whole frames, with a size limit, a timeout on every
 * frame and back-pressure in both directions.
 *
 * Receiving an ERROR frame makes {@link read} throw a {@link RemoteError} carrying the peer's code.
 *
 * @example
 * const first = await stream.read()       // Uint8Array, or null when the peer closed its end
 * await stream.write(new Uint8Array([1]))  // waits while the peer is not reading
 * await stream.closeWrite()               // end of our frames
 */
export class FramedStream implements AsyncIterable<Uint8Array> {
  /** The underlying libp2p stream (escape hatch). */
  readonly stream: Stream
  /** The connection the stream runs on. */
  readonly connection: Connection
  /** The peer at the other end, authenticated by Noise. */
  readonly remotePeer: PeerId
  /** The negotiated protocol id. */
  readonly protocol: string
  /** Largest DATA payload accepted or sent, in bytes. */
  readonly maxFrameBytes: number
  /** Per-frame read timeout in milliseconds. */
  readonly readTimeoutMs: number
  /** Back-pressure write timeout in milliseconds. */
  readonly writeTimeoutMs: number
  /** Fires when the stream closes, is reset or aborted: stop producing frames for it. */
  readonly signal: AbortSignal

  readonly #reader: FrameReader
  readonly #closed = new AbortController()

  constructor(stream: Stream, connection: Connection, limits: FrameLimits = {}) {
    this.stream = stream
    this.connection = connection
    this.remotePeer = connection.remotePeer
    this.protocol = stream.protocol
    this.maxFrameBytes = limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.readTimeoutMs = limits.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS
    this.writeTimeoutMs = limits.writeTimeoutMs ?? this.readTimeoutMs
    if (!(this.maxFrameBytes > 0) || !(this.readTimeoutMs > 0) || !(this.writeTimeoutMs > 0)) {
      throw new InvalidArgumentError('maxFrameBytes, readTimeoutMs and writeTimeoutMs must be positive')
    }
    this.signal = this.#closed.signal
    this.#reader = new FrameReader(stream, { maxFrameBytes: this.maxFrameBytes })
    if (stream.status !== 'open') this.#closed.abort(new StreamClosedError(`stream is ${stream.status}`))
    else stream.addEventListener('close', this.#onClose, { once: true })
  }

  /**
   * Reads the next DATA frame's payload, or `null` when the peer closed its end cleanly.
   *
   * @throws {RemoteError} the peer sent an ERROR frame
   * @throws {TimeoutError} the frame did not arrive within the read timeout
   * @throws {FrameTooLargeError | MalformedFrameError} the peer broke the framing
   * @throws {StreamClosedError} the stream was reset
   * @throws {AbortedError} `options.signal` fired
   */
  async read(options: FrameIoOptions = {}): Promise<Uint8Array | null> {
    const frame = await this.#reader.next({
      timeoutMs: options.timeoutMs ?? this.readTimeoutMs,
      signal: options.signal,
    })
    if (frame === null) return null
    if (frame.type === DATA_FRAME) return frame.payload
    let message: ReturnType<typeof decodeMessage<'ERROR'>>
    try {
      message = decodeMessage('ERROR', frame.payload)
    } catch (cause) {
      throw new MalformedFrameError('undecodable ERROR frame', { cause })
    }
    throw new RemoteError(message)
  }

  /**
   * Sends one DATA frame. Resolves once the bytes are handed to the muxer, or — when the peer is not
   * reading and the send buffer is full — once it has drained.
   *
   * @throws {FrameTooLargeError} the payload exceeds `maxFrameBytes` (nothing was sent)
   * @throws {TimeoutError} the peer did not read within the write timeout
   * @throws {StreamClosedError} the stream is closed for writing
   */
  async write(payload: Uint8Array, options: FrameIoOptions = {}): Promise<void> {
    if (payload.length > this.maxFrameBytes) throw new FrameTooLargeError(payload.length, this.maxFrameBytes)
    await this.#send(DATA_FRAME, payload, options)
  }

  /**
   * Sends an ERROR frame telling the peer about `error` (see `toErrorMessage`: an InfraxaError keeps its
   * code and short message, anything else becomes `ERR_INTERNAL`). Send nothing after it.
   */
  async writeError(error: unknown, extra: ErrorFrameExtra = {}, options: FrameIoOptions = {}): Promise<void> {
    // Any error that says when to come back (rate limits, a provider's full queue) passes it on.
    const hinted = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
    const retryAfterMs =
      extra.retryAfterMs ??
      (error instanceof RateLimitedError
        ? error.retryAfterMs
        : typeof hinted === 'number' && Number.isFinite(hinted)
          ? Math.max(0, Math.round(hinted))
          : undefined)
    const message = toErrorMessage(error, {
      ...(extra.jobId !== undefined ? { jobId: extra.jobId } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    })
    await this.#send(ERROR_FRAME, encodeMessage('ERROR', message), options)
  }

  /** Closes our end for writing (the peer reads `null` after our last frame). Reading stays possible. */
  async closeWrite(options: FrameIoOptions = {}): Promise<void> {
    if (this.stream.writeStatus !== 'writable') return
    await this.#negotiationSettled()
    if (this.stream.writeStatus !== 'writable') return
    const timeoutMs = options.timeoutMs ?? this.writeTimeoutMs
    const signal = combinedSignal(timeoutMs, options.signal)
    try {
      await this.stream.close({ signal })
    } catch (cause) {
      throw toIoError(cause, 'closing the stream', timeoutMs, options.signal)
    }
  }

  /** Resets the stream at once, discarding anything unsent or unread. */
  abort(error: Error = new StreamClosedError('aborted locally')): void {
    this.#reader.dispose()
    if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(error)
  }

  /**
   * Tells the peer about `error` in an ERROR frame where that makes sense, then ends the stream: closes
   * our end, and resets it if the peer is still sending (its remaining bytes would never be read).
   * Never throws.
   */
  async fail(error: unknown, extra: ErrorFrameExtra = {}): Promise<void> {
    await this.#negotiationSettled()
    const tellPeer =
      !(error instanceof RemoteError) &&
      !(error instanceof StreamClosedError) &&
      !(error instanceof AbortedError) &&
      this.stream.writeStatus === 'writable' &&
      this.stream.status === 'open'
    if (tellPeer) {
      // The peer may be the reason we fail (not reading): do not wait long on it.
      const io = { timeoutMs: Math.min(this.writeTimeoutMs, FAIL_WRITE_TIMEOUT_MS) }
      try {
        await this.writeError(error, extra, io)
        await this.closeWrite(io)
      } catch {
        // The peer is gone or not reading: the reset below is all that is left.
      }
    }
    if (this.stream.status === 'open' && this.stream.remoteWriteStatus === 'writable') {
      this.abort(error instanceof Error ? error : new StreamClosedError('failed'))
    }
  }

  /** Stops reading and releases listeners; does not close the stream. */
  dispose(): void {
    this.#reader.dispose()
    this.stream.removeEventListener('close', this.#onClose)
  }

  /** DATA payloads until the peer closes its end; throws like {@link read}. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      const payload = await this.read()
      if (payload === null) return
      yield payload
    }
  }

  async #send(type: FrameType, payload: Uint8Array, options: FrameIoOptions): Promise<void> {
    if (this.stream.writeStatus !== 'writable') {
      throw new StreamClosedError(`cannot write, the stream is ${this.stream.writeStatus} for writing`)
    }
    let ready: boolean
    try {
      if (payload.length <= SMALL_FRAME_BYTES) {
        ready = this.stream.send(encodeFrame(type, payload))
      } else {
        this.stream.send(encodeFrameHeader(type, payload.length))
        ready = this.stream.send(payload)
      }
    } catch (cause) {
      throw toIoError(cause, 'writing a frame', this.writeTimeoutMs, options.signal)
    }
    if (ready && this.stream.writeBufferLength === 0) return
    await this.#flushed(options)
  }

  /**
   * Waits until everything written has been handed to the muxer, i.e. the peer's flow-control window
   * took it. (`Stream.onDrain()` cannot be used: in @libp2p/utils 7.4 it resolves at once after the first
   * drain.) A 'drain' can be a connection-level one while this stream's window is still exhausted, so
   * the buffer is checked again after each event.
   */
  async #flushed(options: FrameIoOptions): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.writeTimeoutMs
    const signal = options.signal
    const stream = this.stream
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        stream.removeEventListener('drain', check)
        stream.removeEventListener('idle', check)
        stream.removeEventListener('close', onClose)
        signal?.removeEventListener('abort', onAbort)
      }
      const check = (): void => {
        // A drain restarts sending in a microtask: look after it.
        queueMicrotask(() => {
          if (stream.writeBufferLength > 0 && stream.writeStatus !== 'closed') return
          cleanup()
          if (stream.writeStatus === 'closed' && stream.writeBufferLength > 0) {
            reject(new StreamClosedError('closed before the frame was sent'))
          } else resolve()
        })
      }
      const onClose = (event: Event): void => {
        cleanup()
        const cause = (event as StreamCloseEvent).error
        reject(
          new StreamClosedError(cause ? `reset while writing (${cause.message})` : 'closed while writing', {
            cause,
          }),
        )
      }
      const onAbort = (): void => {
        cleanup()
        reject(new AbortedError('writing a frame', { cause: signal?.reason }))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new TimeoutError('writing a frame (the peer is not reading)', timeoutMs))
      }, timeoutMs)
      stream.addEventListener('drain', check)
      stream.addEventListener('idle', check)
      stream.addEventListener('close', onClose)
      if (signal?.aborted) onAbort()
      else signal?.addEventListener('abort', onAbort)
      check()
    })
  }

  /**
   * On an inbound stream, waits (at most the read timeout) until the peer has sent something. The peer
   * only sends once its protocol negotiation is over, and libp2p's multistream-select fails the
   * negotiation ("Cannot push data onto a stream that is closed") when our FIN or reset arrives in the
   * same read as its protocol confirmation — which happens whenever a handler answers without reading.
   */
  async #negotiationSettled(): Promise<void> {
    if (this.stream.direction !== 'inbound') return
    // Counted from the stream's opening: a peer silent that long is stalled, not negotiating.
    const waitMs = this.stream.timeline.open + this.readTimeoutMs - Date.now()
    if (waitMs > 0) await this.#reader.peerActivity(waitMs)
  }

  readonly #onClose = (): void => {
    this.#closed.abort(new StreamClosedError('stream closed'))
  }
}

function combinedSignal(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal === undefined ? timeout : AbortSignal.any([timeout, signal])
}

/** Maps a libp2p stream failure to a transport error. */
function toIoError(cause: unknown, what: string, timeoutMs: number, signal: AbortSignal | undefined): Error {
  if (cause instanceof InfraxaError) return cause
  if (signal?.aborted) return new AbortedError(what, { cause: signal.reason })
  const name = cause instanceof Error ? cause.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') return new TimeoutError(what, timeoutMs, { cause })
  const message = cause instanceof Error ? cause.message : String(cause)
  return new StreamClosedError(`${what} failed: ${message}`, { cause })
}
