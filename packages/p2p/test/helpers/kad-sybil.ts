import { createHash } from 'node:crypto'
import { PROTOCOL_IDS } from '@infraxa/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { createNode, type InfraxaNode } from '../../src/index.js'

/**
 * Test double: an eclipse attacker's Sybil nodes. Their ids are ground to lie closest (XOR) to one DHT key,
 * they speak the DHT protocol, and they answer every query with the other Sybils as the "closer peers"
 * and no provider at all — so a lookup that trusts them ends among them, empty.
 *
 * The kad-dht wire format, written out here (the test must not use kad-dht's own code to lie):
 * Message { type = 1 (varint), key = 2, closer = 8 (Peer), providers = 9 (Peer) },
 * Peer { id = 1, addrs = 2 (repeated), connection = 3 (varint) }.
 */

function varint(value: number): number[] {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
  return out
}

function field(number: number, bytes: Uint8Array): number[] {
  return [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes]
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0
  let shift = 0
  let i = at
  for (;;) {
    const b = bytes[i++]!
    value += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return [value, i]
    shift += 7
  }
}

/** The message type and key of a request (the only fields the Sybils read). */
function decodeRequest(bytes: Uint8Array): { type: number; key: Uint8Array } {
  let type = 0
  let key = new Uint8Array()
  let i = 0
  while (i < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, i)
    const wire = tag & 7
    const number = tag >>> 3
    if (wire === 0) {
      const [value, next] = readVarint(bytes, afterTag)
      if (number === 1) type = value
      i = next
    } else if (wire === 2) {
      const [length, start] = readVarint(bytes, afterTag)
      if (number === 2) key = bytes.slice(start, start + length)
      i = start + length
    } else {
      break
    }
  }
  return { type, key }
}

function encodeResponse(
  type: number,
  key: Uint8Array,
  closer: Array<{ id: Uint8Array; addrs: Uint8Array[] }>,
) {
  const out = [...varint(1 << 3), ...varint(type), ...field(2, key)]
  for (const peer of closer) {
    const body = [...field(1, peer.id), ...peer.addrs.flatMap((a) => field(2, a)), ...varint(3 << 3), 1]
    out.push(...field(8, new Uint8Array(body)))
  }
  return new Uint8Array(out)
}

/** Requests the Sybils answered, by kad message type (3 = GET_PROVIDERS, 4 = FIND_NODE, 5 = PING). */
export const sybilRequests: Record<number, number> = {}

/** The XOR distance of two 32-byte ids, as a bigint. */
function distance(a: Uint8Array, b: Uint8Array): bigint {
  let d = 0n
  for (let i = 0; i < 32; i++) d = (d << 8n) | BigInt(a[i]! ^ b[i]!)
  return d
}

const kadId = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest())

/**
 * Starts `count` Sybils whose ids are the closest to `targetKey` of `candidates` generated keys, each
 * listening on `listen(i)` (default 127.0.0.1, one port each).
 */
export async function startSybils(
  targetKey: Uint8Array,
  {
    count = 16,
    candidates = 3_000,
    listen,
  }: { count?: number; candidates?: number; listen?: (i: number) => string[] } = {},
): Promise<InfraxaNode[]> {
  const target = kadId(targetKey)
  const keys = await Promise.all(Array.from({ length: candidates }, () => generateKeyPair('Ed25519')))
  const ranked = keys
    .map((key) => ({ key, d: distance(kadId(peerIdFromPrivateKey(key).toMultihash().bytes), target) }))
    .sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0))
    .slice(0, count)
  const sybils = await Promise.all(
    ranked.map(({ key }, i) =>
      createNode({
        privateKey: key,
        ...(listen !== undefined && { listen: listen(i) }),
        dht: false,
        connections: { inboundConnectionsPerHostPerSecond: 10_000 },
      }),
    ),
  )
  const peers = () =>
    sybils.map((s) => ({ id: s.peerId.toMultihash().bytes, addrs: s.multiaddrs.map((a) => a.bytes) }))
  for (const sybil of sybils) {
    await sybil.libp2p.handle(
      PROTOCOL_IDS.kad,
      async (stream) => {
        const lp = lpStream(stream)
        try {
          for (;;) {
            const request = decodeRequest((await lp.read()).subarray())
            sybilRequests[request.type] = (sybilRequests[request.type] ?? 0) + 1
            await lp.write(encodeResponse(request.type, request.key, peers()))
          }
        } catch {
          stream.abort(new Error('sybil done'))
        }
      },
      { runOnLimitedConnection: true },
    )
  }
  return sybils
}
