import { InvalidArgumentError } from '@infraxa/protocol'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import {
  AbortedError,
  FrameTooLargeError,
  MalformedFrameError,
  StreamClosedError,
  TimeoutError,
} from './errors.js'
import { DATA_FRAME, ERROR_FRAME, type FrameType, MAX_ERROR_FRAME_BYTES, MAX_LENGTH_BYTES } from './frame.js'

/** One frame as read off a stream. */
export interface ReceivedFrame {
  type: FrameType
  payload: Uint8Array
}

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest accepted DATA payload in bytes; a larger declared length fails at once. */
  maxFrameBytes: number
  /**
   * Bytes buffered (unread) before the stream is paused, which stops yamux window updates so the sender
   * stops. Reading resumes it.
   *
   * @default 1_048_576
   */
  highWaterMark?: number
}

/** Options of {@link FrameReader.next}. */
export interface ReadFrameOptions {
  /** The whole frame must arrive within this many milliseconds of the call. */
  timeoutMs: number
  signal?: AbortSignal | undefined
}

interface FrameHeader {
  type: FrameType
  headerBytes: number
  payloadBytes: number
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024

/**
 * Parses frames (see `frame.ts`) from a libp2p stream's `message` events.
 *
 * Headers are parsed as bytes arrive, so an oversized or garbage frame is detected before its body is
 * buffered; frames already complete are still delivered before the error. When more than
 * `highWaterMark` unread bytes pile up the stream is paused (back-pressure reaches the sender through
 * yamux flow control) until the reader catches up.
 */
export class FrameReader {
  readonly #stream: Stream
  readonly #maxFrameBytes: number
  readonly #highWaterMark: number
  #chunks: Uint8Array[] = []
  /** Bytes of `#chunks[0]` already consumed. */
  #offset = 0
  #buffered = 0
  #header: FrameHeader | undefined
  /** A protocol violation: thrown once the complete frames before it are read. */
  #failure: Error | undefined
  #closeError: Error | undefined
  #ended = false
  #receivedAny = false
  #reading = false
  #paused = false
  #wake: (() => void) | undefined
  #activity: (() => void)[] = []
  #disposed = false

  constructor(stream: Stream, options: FrameReaderOptions) {
    this.#stream = stream
    this.#maxFrameBytes = options.maxFrameBytes
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
    stream.addEventListener('message', this.#onMessage)
    stream.addEventListener('end', this.#onEnd)
    stream.addEventListener('close', this.#onClose)
    if (stream.readableEnded) this.#ended = true
    if (stream.status === 'aborted' || stream.status === 'reset') {
      this.#closeError = new StreamClosedError(`stream was ${stream.status} before it was read`)
    }
  }

  /** Bytes received and not yet read. */
  get bufferedBytes(): number {
    return this.#buffered
  }

  /**
   * Resolves once the peer has sent a byte, closed its end or the stream closed — or after `timeoutMs`.
   * Never rejects.
   */
  async peerActivity(timeoutMs: number): Promise<void> {
    if (this.#receivedAny || this.#ended || this.#closeError !== undefined || this.#disposed) return
    const { promise, resolve } = Promise.withResolvers<void>()
    const timer = setTimeout(resolve, timeoutMs)
    this.#activity.push(resolve)
    await promise
    clearTimeout(timer)
  }

  /**
   * The next frame, or `null` when the sender closed its end cleanly between frames.
   *
   * @throws {TimeoutError} the frame did not arrive in time (the reader is unusable afterwards)
   * @throws {FrameTooLargeError | MalformedFrameError} the sender broke the framing
   * @throws {StreamClosedError} the stream was reset or aborted
   * @throws {AbortedError} `options.signal` fired
   */
  async next(options: ReadFrameOptions): Promise<ReceivedFrame | null> {
    if (this.#reading) throw new InvalidArgumentError('concurrent reads on one stream are not allowed')
    this.#reading = true
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    const onAbort = (): void => this.#wake?.()
    try {
      options.signal?.addEventListener('abort', onAbort)
      while (true) {
        const frame = this.#takeFrame()
        if (frame !== undefined) return frame
        if (this.#failure !== undefined) throw this.#failure
        if (this.#closeError !== undefined) throw this.#closeError
        if (this.#ended) {
          if (this.#buffered > 0) {
            this.#failure = new MalformedFrameError(this.#progress('stream ended inside a frame'))
            throw this.#failure
          }
          return null
        }
        if (options.signal?.aborted)
          throw new AbortedError('reading a frame', { cause: options.signal.reason })
        if (timedOut) {
          this.#failure = new TimeoutError('reading a frame', options.timeoutMs, {
            details: this.#progress('The sender stalled'),
          })
          throw this.#failure
        }
        const woken = Promise.withResolvers<void>()
        this.#wake = woken.resolve
        timer ??= setTimeout(() => {
          timedOut = true
          this.#wake?.()
        }, options.timeoutMs)
        this.#updateFlow()
        await woken.promise
        this.#wake = undefined
      }
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      this.#wake = undefined
      this.#reading = false
      this.#updateFlow()
    }
  }

  /** Stops listening to the stream. Unread bytes are dropped. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#stream.removeEventListener('message', this.#onMessage)
    this.#stream.removeEventListener('end', this.#onEnd)
    this.#stream.removeEventListener('close', this.#onClose)
    this.#chunks = []
    this.#offset = 0
    this.#buffered = 0
    this.#header = undefined
    this.#closeError ??= new StreamClosedError('the stream is no longer read')
    this.#notify()
  }

  readonly #onMessage = (event: StreamMessageEvent): void => {
    if (this.#disposed || this.#failure !== undefined) return
    const data = event.data
    if (data instanceof Uint8Array) this.#append(data)
    else for (const chunk of data) this.#append(chunk)
    this.#receivedAny = true
    this.#parseHeader()
    this.#updateFlow()
    this.#notify()
  }

  readonly #onEnd = (): void => {
    this.#ended = true
    this.#notify()
  }

  readonly #onClose = (event: StreamCloseEvent): void => {
    if (event.error !== undefined) {
      this.#closeError ??= new StreamClosedError(
        event.local === true ? `aborted locally (${event.error.message})` : `reset by the peer`,
        { cause: event.error },
      )
    } else if (this.#stream.readBufferLength === 0 || this.#stream.readStatus !== 'paused') {
      this.#ended = true
    }
    // Otherwise the stream closed while paused with bytes still queued inside it: they are dispatched
    // (and 'end' follows) as soon as the reader resumes it, which it does whenever it needs more.
    this.#notify()
  }

  #notify(): void {
    this.#wake?.()
    const waiting = this.#activity
    if (waiting.length === 0) return
    this.#activity = []
    for (const resolve of waiting) resolve()
  }

  #append(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /** Pauses the stream while enough is buffered and nobody waits for more; resumes otherwise. */
  #updateFlow(): void {
    if (this.#disposed) return
    const needsMore = this.#reading && !this.#hasCompleteFrame()
    const shouldPause = this.#buffered >= this.#highWaterMark && !needsMore
    const stream = this.#stream
    if (stream.readStatus === 'closed' || stream.readStatus === 'closing') return
    try {
      if (shouldPause && !this.#paused) {
        this.#paused = true
        stream.pause()
      } else if (!shouldPause && this.#paused) {
        this.#paused = false
        stream.resume()
      }
    } catch {
      // The stream closed between the status check and the call: nothing left to control.
    }
  }

  #hasCompleteFrame(): boolean {
    const header = this.#header
    return header !== undefined && this.#buffered >= header.headerBytes + header.payloadBytes
  }

  #byteAt(index: number): number | undefined {
    let i = index + this.#offset
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i]
      i -= chunk.length
    }
    return undefined
  }

  /** Parses the next frame's header if its bytes are there; records a failure when it is invalid. */
  #parseHeader(): void {
    if (this.#header !== undefined || this.#failure !== undefined || this.#buffered === 0) return
    const type = this.#byteAt(0)!
    if (type !== DATA_FRAME && type !== ERROR_FRAME) {
      this.#failure = new MalformedFrameError(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`)
      return
    }
    let length = 0
    let multiplier = 1
    for (let i = 0; i < MAX_LENGTH_BYTES; i++) {
      const byte = this.#byteAt(1 + i)
      if (byte === undefined) return
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
      if ((byte & 0x80) === 0) {
        const limit = type === DATA_FRAME ? this.#maxFrameBytes : MAX_ERROR_FRAME_BYTES
        if (length > limit) {
          this.#failure = new FrameTooLargeError(length, limit)
          return
        }
        this.#header = { type, headerBytes: 2 + i, payloadBytes: length }
        return
      }
    }
    this.#failure = new MalformedFrameError(`frame length varint longer than ${MAX_LENGTH_BYTES} bytes`)
  }

  #takeFrame(): ReceivedFrame | undefined {
    this.#parseHeader()
    const header = this.#header
    if (header === undefined || !this.#hasCompleteFrame()) return undefined
    this.#header = undefined
    this.#consume(header.headerBytes)
    const payload = this.#consume(header.payloadBytes)
    this.#parseHeader()
    return { type: header.type, payload }
  }

  /** Removes `count` bytes from the front of the buffer; zero-copy when they lie in one chunk. */
  #consume(count: number): Uint8Array {
    const first = this.#chunks[0]
    if (first !== undefined && first.length - this.#offset >= count) {
      const out = first.subarray(this.#offset, this.#offset + count)
      this.#offset += count
      if (this.#offset === first.length) {
        this.#chunks.shift()
        this.#offset = 0
      }
      this.#buffered -= count
      return out
    }
    const out = new Uint8Array(count)
    let filled = 0
    while (filled < count) {
      const chunk = this.#chunks[0]!
      const n = Math.min(chunk.length - this.#offset, count - filled)
      out.set(chunk.subarray(this.#offset, this.#offset + n), filled)
      filled += n
      this.#offset += n
      if (this.#offset === chunk.length) {
        this.#chunks.shift()
        this.#offset = 0
      }
    }
    this.#buffered -= count
    return out
  }

  #progress(what: string): string {
    const header = this.#header
    if (this.#buffered === 0) return `${what} before sending a frame.`
    if (header === undefined) return `${what} with ${this.#buffered} bytes of a frame header received.`
    const body = Math.max(0, this.#buffered - header.headerBytes)
    return `${what} after ${body} of ${header.payloadBytes} payload bytes.`
  }
}
