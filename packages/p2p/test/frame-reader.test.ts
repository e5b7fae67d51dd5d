import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DATA_FRAME,
  ERROR_FRAME,
  encodeFrame,
  encodeFrameHeader,
  FrameReader,
  FrameTooLargeError,
  MalformedFrameError,
  StreamClosedError,
  TimeoutError,
  uvarintLength,
} from '../src/index.js'

const open: Stream[] = []

async function pair(maxFrameBytes = 1024): Promise<{ writer: Stream; reader: FrameReader; stream: Stream }> {
  const [writer, stream] = await streamPair()
  open.push(writer, stream)
  return { writer, stream, reader: new FrameReader(stream, { maxFrameBytes }) }
}

afterEach(() => {
  for (const stream of open.splice(0)) stream.abort(new Error('test done'))
})

describe('frame encoding', () => {
  it('writes the type, then the unsigned LEB128 length, then the payload', () => {
    expect([...encodeFrame(DATA_FRAME, Uint8Array.of(9, 8))]).toEqual([0, 2, 9, 8])
    expect([...encodeFrameHeader(ERROR_FRAME, 300)]).toEqual([1, 0xac, 0x02])
    expect([...encodeFrameHeader(DATA_FRAME, 0)]).toEqual([0, 0])
  })

  it('computes varint lengths at the byte boundaries', () => {
    expect([0, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 35].map(uvarintLength)).toEqual([
      1, 1, 2, 2, 3, 3, 4, 6,
    ])
    for (const value of [0, 1, 127, 128, 300, 65_536, 4_194_304, 2 ** 40 + 5]) {
      expect(encodeFrameHeader(DATA_FRAME, value).length).toBe(1 + uvarintLength(value))
    }
  })
})

describe('FrameReader', () => {
  it('reassembles frames delivered one byte at a time', async () => {
    const { writer, reader } = await pair()
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)
    const wire = encodeFrame(DATA_FRAME, payload)
    for (const byte of wire) writer.send(Uint8Array.of(byte))
    const frame = await reader.next({ timeoutMs: 2_000 })
    expect(frame?.type).toBe(DATA_FRAME)
    expect([...frame!.payload]).toEqual([...payload])
  })

  it('splits several frames delivered in one chunk, including empty ones', async () => {
    const { writer, reader } = await pair()
    writer.send(
      Buffer.concat([
        encodeFrame(DATA_FRAME, Uint8Array.of(1)),
        encodeFrame(DATA_FRAME, new Uint8Array(0)),
        encodeFrame(ERROR_FRAME, Uint8Array.of(2, 3)),
      ]),
    )
    await writer.close()
    const frames = []
    for (
      let frame = await reader.next({ timeoutMs: 1_000 });
      frame;
      frame = await reader.next({ timeoutMs: 1_000 })
    ) {
      frames.push({ type: frame.type, payload: [...frame.payload] })
    }
    expect(frames).toEqual([
      { type: DATA_FRAME, payload: [1] },
      { type: DATA_FRAME, payload: [] },
      { type: ERROR_FRAME, payload: [2, 3] },
    ])
  })

  it('rejects an oversized DATA frame from its header, before any body arrives', async () => {
    const { writer, reader } = await pair(1024)
    writer.send(encodeFrameHeader(DATA_FRAME, 1025))
    const error = await reader.next({ timeoutMs: 1_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FrameTooLargeError)
    expect((error as FrameTooLargeError).size).toBe(1025)
    expect((error as FrameTooLargeError).limit).toBe(1024)
  })

  it('limits ERROR frames to the protocol ERROR size', async () => {
    const { writer, reader } = await pair(1 << 20)
    writer.send(encodeFrameHeader(ERROR_FRAME, 64 * 1024))
    await expect(reader.next({ timeoutMs: 1_000 })).rejects.toBeInstanceOf(FrameTooLargeError)
  })

  it('delivers complete frames before a later framing error', async () => {
    const { writer, reader } = await pair()
    writer.send(Buffer.concat([encodeFrame(DATA_FRAME, Uint8Array.of(7)), Uint8Array.of(0x47, 0x45, 0x54)]))
    expect([...(await reader.next({ timeoutMs: 1_000 }))!.payload]).toEqual([7])
    const error = await reader.next({ timeoutMs: 1_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MalformedFrameError)
    expect((error as Error).message).toContain('unknown frame type 0x47')
  })

  it('rejects a length varint longer than 8 bytes', async () => {
    const { writer, reader } = await pair()
    writer.send(Uint8Array.of(DATA_FRAME, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))
    await expect(reader.next({ timeoutMs: 1_000 })).rejects.toBeInstanceOf(MalformedFrameError)
  })

  it('rejects a stream that ends inside a frame', async () => {
    const { writer, reader } = await pair()
    writer.send(encodeFrame(DATA_FRAME, new Uint8Array(50)).subarray(0, 20))
    await writer.close()
    const error = await reader.next({ timeoutMs: 1_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MalformedFrameError)
    expect((error as Error).message).toContain('18 of 50')
  })

  it('times out on a frame that stalls half way, and stays failed', async () => {
    const { writer, reader } = await pair()
    writer.send(encodeFrame(DATA_FRAME, new Uint8Array(50)).subarray(0, 20))
    const started = performance.now()
    const error = await reader.next({ timeoutMs: 150 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    expect((error as TimeoutError).details).toContain('18 of 50')
    writer.send(encodeFrame(DATA_FRAME, new Uint8Array(50)).subarray(20))
    await expect(reader.next({ timeoutMs: 150 })).rejects.toBeInstanceOf(TimeoutError)
  })

  it('raises StreamClosedError when the stream is reset', async () => {
    const { writer, reader } = await pair()
    const pending = reader.next({ timeoutMs: 2_000 })
    writer.abort(new Error('gone'))
    await expect(pending).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('refuses concurrent reads', async () => {
    const { reader } = await pair()
    const first = reader.next({ timeoutMs: 100 }).catch(() => undefined)
    await expect(reader.next({ timeoutMs: 100 })).rejects.toThrow(/concurrent/)
    await first
  })

  it('pauses the stream past the high-water mark and resumes when read', async () => {
    const [writer, stream] = await streamPair()
    open.push(writer, stream)
    const reader = new FrameReader(stream, { maxFrameBytes: 1024, highWaterMark: 2048 })
    for (let i = 0; i < 8; i++) writer.send(encodeFrame(DATA_FRAME, new Uint8Array(1000)))
    await expect.poll(() => stream.readStatus).toBe('paused')
    for (let i = 0; i < 8; i++) expect((await reader.next({ timeoutMs: 1_000 }))?.payload.length).toBe(1000)
    expect(stream.readStatus).toBe('readable')
  })
})
