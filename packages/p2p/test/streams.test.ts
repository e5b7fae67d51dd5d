import { createHash } from 'node:crypto'
import { decodeMessage, InfraxaError, RemoteError } from '@infraxa/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AbortedError,
  createNode,
  DATA_FRAME,
  ERROR_FRAME,
  encodeFrame,
  encodeFrameHeader,
  FrameReader,
  FrameTooLargeError,
  type InfraxaNode,
  PeerUnreachableError,
  TimeoutError,
  UnsupportedProtocolError,
} from '../src/index.js'

const ECHO = '/test/echo/1.0.0'
const STREAM = '/test/stream/1.0.0'
const FAIL = '/test/fail/1.0.0'
const CRASH = '/test/crash/1.0.0'
const SILENT = '/test/silent/1.0.0'
const LIMITED = '/test/limited/1.0.0'
const PRODUCER = '/test/producer/1.0.0'
const FINITE = '/test/finite/1.0.0'

const ECHO_MAX_FRAME = 1024
const ECHO_READ_TIMEOUT_MS = 400

let server: InfraxaNode
let client: InfraxaNode
let rogue: InfraxaNode
const cancelled: string[] = []
let produced = 0

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Deterministic pseudo-random bytes. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Sends raw bytes on a new stream from `from` to `server` and reads the first frame back. */
async function rawExchange(from: InfraxaNode, protocol: string, data: Uint8Array) {
  const stream = await from.libp2p.dialProtocol(server.multiaddrs[0]!, protocol)
  const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20 })
  const started = performance.now()
  stream.send(data)
  try {
    const frame = await reader.next({ timeoutMs: 5_000 })
    const elapsedMs = performance.now() - started
    const error = frame?.type === ERROR_FRAME ? decodeMessage('ERROR', frame.payload) : undefined
    return { frame, error, elapsedMs }
  } finally {
    reader.dispose()
    stream.abort(new Error('test done'))
  }
}

beforeAll(async () => {
  ;[server, client, rogue] = await Promise.all([
    createNode({ dht: false }),
    createNode({ dht: false }),
    createNode({ dht: false }),
  ])
  // PeerIds are dialled through the peer store, so both peers learn the server's address first.
  await client.connect(server.multiaddrs[0]!)
  await rogue.connect(server.multiaddrs[0]!)
  await server.handle(ECHO, async (stream) => (await stream.read()) ?? undefined, {
    maxFrameBytes: ECHO_MAX_FRAME,
    readTimeoutMs: ECHO_READ_TIMEOUT_MS,
  })
  await server.handle(STREAM, async (stream) => {
    const request = await stream.read()
    const [totalBytes, chunkBytes] = JSON.parse(new TextDecoder().decode(request!)) as [number, number]
    const body = pattern(totalBytes, 7)
    for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
      await stream.write(body.subarray(offset, offset + chunkBytes))
    }
    return createHash('sha256').update(body).digest()
  })
  await server.handle(FAIL, () => {
    throw new InfraxaError('ERR_UNKNOWN_MODEL', 'no such model')
  })
  await server.handle(CRASH, () => {
    throw new Error('secret internal detail')
  })
  await server.handle(SILENT, async (stream) => {
    await stream.read()
    await new Promise<void>((resolve) => stream.signal.addEventListener('abort', () => resolve()))
    cancelled.push('silent')
  })
  await server.handle(LIMITED, async (stream) => (await stream.read()) ?? undefined, {
    rateLimit: { burst: 5, perSecond: 1 },
  })
  await server.handle(FINITE, async (stream) => {
    const count = (await stream.read())![0]!
    for (let i = 0; i < count; i++) await stream.write(pattern(256 * 1024, i + 1))
  })
  await server.handle(PRODUCER, async (stream) => {
    await stream.read()
    produced = 0
    const chunk = new Uint8Array(256 * 1024)
    try {
      for (let i = 0; i < 64; i++) {
        await stream.write(chunk)
        produced++
      }
    } catch {
      cancelled.push('producer')
    }
  })
})

afterAll(async () => {
  await Promise.all([server?.stop(), client?.stop(), rogue?.stop()])
})

describe('request / response', () => {
  it('echoes a frame', async () => {
    const answer = await client.request(server.peerId, ECHO, bytes('hello'))
    expect(new TextDecoder().decode(answer)).toBe('hello')
  })

  it('dials a multiaddr string as well as a PeerId', async () => {
    const answer = await client.request(server.multiaddrs[0]!.toString(), ECHO, bytes('by address'))
    expect(new TextDecoder().decode(answer)).toBe('by address')
  })

  it('streams a 4 MiB response in many frames, intact', async () => {
    const totalBytes = 4 * 1024 * 1024
    const chunks: Uint8Array[] = []
    for await (const frame of client.requestStream(
      server.peerId,
      STREAM,
      bytes(JSON.stringify([totalBytes, 65_536])),
    )) {
      chunks.push(Uint8Array.from(frame))
    }
    const digest = chunks.pop()!
    const body = Buffer.concat(chunks)
    expect(chunks).toHaveLength(64)
    expect(body.length).toBe(totalBytes)
    expect(Buffer.from(digest).equals(createHash('sha256').update(body).digest())).toBe(true)
    expect(body.equals(Buffer.from(pattern(totalBytes, 7)))).toBe(true)
  })

  it('raises a handler InfraxaError as a RemoteError with its code', async () => {
    const error = await client.request(server.peerId, FAIL, bytes('x')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('ERR_UNKNOWN_MODEL')
    expect((error as RemoteError).message).toContain('no such model')
  })

  it('hides the text of unexpected handler errors (ERR_INTERNAL)', async () => {
    const error = await client.request(server.peerId, CRASH, bytes('x')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe('ERR_INTERNAL')
    expect((error as RemoteError).message).not.toContain('secret')
  })

  it('raises UnsupportedProtocolError for a protocol the peer does not serve', async () => {
    await expect(client.request(server.peerId, '/test/nothing/1.0.0', bytes('x'))).rejects.toBeInstanceOf(
      UnsupportedProtocolError,
    )
  })

  it('raises PeerUnreachableError for an address nobody listens on', async () => {
    const nowhere = `/ip4/127.0.0.1/tcp/1/p2p/${rogue.peerId.toString()}`
    await expect(client.request(nowhere, ECHO, bytes('x'), { dialTimeoutMs: 2_000 })).rejects.toBeInstanceOf(
      PeerUnreachableError,
    )
  })

  it('refuses to send a frame over its own limit', async () => {
    await expect(
      client.request(server.peerId, ECHO, new Uint8Array(2048), { maxFrameBytes: 1024 }),
    ).rejects.toBeInstanceOf(FrameTooLargeError)
  })

  it('times out when the answer does not come, and the handler sees the stream go', async () => {
    const started = performance.now()
    const error = await client
      .request(server.peerId, SILENT, bytes('x'), { readTimeoutMs: 300 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(performance.now() - started).toBeLessThan(2_000)
    await expect.poll(() => cancelled.includes('silent')).toBe(true)
  })

  it('aborts with the caller signal', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const error = await client
      .request(server.peerId, SILENT, bytes('x'), { signal: controller.signal })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AbortedError)
  })

  it('applies back-pressure: a producer waits while the reader does not read', async () => {
    const frames = client.requestStream(server.peerId, PRODUCER, bytes('go'))
    const first = await frames.next()
    expect(first.done).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 400))
    // 64 × 256 KiB = 16 MiB were offered; only what fits in windows and buffers may have been written.
    expect(produced).toBeLessThan(32)
    let count = 1
    for await (const _ of frames) count++
    expect(count).toBe(64)
    expect(produced).toBe(64)
  })

  it('delivers every frame of a response that ended while the reader was paused', async () => {
    for (const count of [6, 8, 12]) {
      const frames = client.requestStream(server.peerId, FINITE, Uint8Array.of(count))
      const received: Uint8Array[] = [(await frames.next()).value as Uint8Array]
      // Sit on the stream so it pauses, while the handler writes the rest and closes: the end of the
      // response then arrives while bytes are still queued in the paused stream.
      await new Promise((resolve) => setTimeout(resolve, 300))
      for await (const frame of frames) received.push(frame)
      expect(received).toHaveLength(count)
      for (const [i, frame] of received.entries()) {
        expect(Buffer.from(frame).equals(Buffer.from(pattern(256 * 1024, i + 1)))).toBe(true)
      }
    }
  })
})

describe('misbehaving peers', () => {
  it('answers an oversized frame with ERR_FRAME_TOO_LARGE at once', async () => {
    const { error, elapsedMs } = await rawExchange(
      rogue,
      ECHO,
      encodeFrameHeader(DATA_FRAME, 10 * ECHO_MAX_FRAME),
    )
    expect(error?.code).toBe('ERR_FRAME_TOO_LARGE')
    expect(elapsedMs).toBeLessThan(ECHO_READ_TIMEOUT_MS)
  })

  it('answers garbage bytes with ERR_MALFORMED_FRAME', async () => {
    const { error } = await rawExchange(rogue, ECHO, bytes('GET / HTTP/1.1\r\n\r\n'))
    expect(error?.code).toBe('ERR_MALFORMED_FRAME')
  })

  it('answers half a frame followed by silence with ERR_TIMEOUT within the read timeout', async () => {
    const half = encodeFrame(DATA_FRAME, new Uint8Array(100)).subarray(0, 40)
    const { error, elapsedMs } = await rawExchange(rogue, ECHO, half)
    expect(error?.code).toBe('ERR_TIMEOUT')
    expect(elapsedMs).toBeGreaterThanOrEqual(ECHO_READ_TIMEOUT_MS - 50)
    expect(elapsedMs).toBeLessThan(ECHO_READ_TIMEOUT_MS + 1_500)
  })

  it('answers a peer that opens a stream and sends nothing with ERR_TIMEOUT after one read timeout', async () => {
    const { error, elapsedMs } = await rawExchange(rogue, ECHO, new Uint8Array(0))
    expect(error?.code).toBe('ERR_TIMEOUT')
    expect(elapsedMs).toBeLessThan(2 * ECHO_READ_TIMEOUT_MS - 100)
  })

  it('keeps serving a well-behaved peer while others misbehave', async () => {
    let served = 0
    let stop = false
    const wellBehaved = (async () => {
      for (let i = 0; i < 200 && !stop; i++) {
        const answer = await client.request(server.peerId, ECHO, bytes(`ok ${i}`))
        expect(new TextDecoder().decode(answer)).toBe(`ok ${i}`)
        served++
      }
    })()
    const half = encodeFrame(DATA_FRAME, new Uint8Array(100)).subarray(0, 40)
    const results = await Promise.all([
      rawExchange(rogue, ECHO, half),
      rawExchange(rogue, ECHO, half),
      rawExchange(rogue, ECHO, encodeFrameHeader(DATA_FRAME, 1 << 30)),
      rawExchange(rogue, ECHO, bytes('\xff\xff\xff garbage')),
    ])
    stop = true
    await wellBehaved
    expect(results.map((r) => r.error?.code).sort()).toEqual(
      ['ERR_FRAME_TOO_LARGE', 'ERR_MALFORMED_FRAME', 'ERR_TIMEOUT', 'ERR_TIMEOUT'].sort(),
    )
    expect(served).toBeGreaterThan(5)
  })

  it('answers a flood with ERR_RATE_LIMITED and keeps serving other peers', async () => {
    const flood = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => rogue.request(server.peerId, LIMITED, bytes(`flood ${i}`))),
    )
    const ok = flood.filter((r) => r.status === 'fulfilled')
    const limited = flood
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as RemoteError)
    expect(ok.length).toBeGreaterThanOrEqual(5)
    expect(ok.length).toBeLessThanOrEqual(7)
    expect(limited.length).toBe(30 - ok.length)
    for (const error of limited) {
      expect(error).toBeInstanceOf(RemoteError)
      expect(error.code).toBe('ERR_RATE_LIMITED')
      expect(error.retryAfterMs).toBeGreaterThan(0)
    }
    const answer = await client.request(server.peerId, LIMITED, bytes('polite'))
    expect(new TextDecoder().decode(answer)).toBe('polite')
  })
})
