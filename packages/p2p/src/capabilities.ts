import {
  type Capability,
  CapabilitySchema,
  clone,
  decodeEnvelope,
  ENVELOPE_OVERHEAD_BYTES,
  encodeEnvelope,
  MESSAGE_KINDS,
  openEnvelope,
  type SignedEnvelope,
  type Signer,
  signEnvelope,
} from '@infraxa/protocol'
import type { PeerId } from '@libp2p/interface'
import { StaleCapabilityError } from './errors.js'
import type { FramedStream } from './framed-stream.js'
import type { ProtocolHandler } from './protocol-handler.js'
import { publicKeyFromPeerId } from './signer.js'

/** Largest capability response: a signed envelope around the largest CAPABILITY message. */
export const MAX_CAPABILITY_FRAME_BYTES: number = MESSAGE_KINDS.CAPABILITY.maxBytes + ENVELOPE_OVERHEAD_BYTES

/**
 * What the node answers on `/infraxa/capabilities/1.0.0`: a fixed record, or a function called for each
 * request (so `loadPermille` and `activeJobs` are live).
 */
export type CapabilitySource = Capability | (() => Capability | Promise<Capability>)

/** A capability record fetched from a peer, with its signature checked against the peer's identity. */
export interface CapabilityRecord {
  /** The peer that answered (authenticated by Noise) and signed the record. */
  peerId: PeerId
  capability: Capability
  /** The envelope as received: forward it to prove what the peer claimed. */
  envelope: SignedEnvelope
}

/**
 * Fills what the record must say about this node when the source left it out: `listenAddrs` (the
 * node's addresses) and `issuedAtMs` (now).
 */
function completeCapability(capability: Capability, listenAddrs: () => string[]): Capability {
  const record = clone(CapabilitySchema, capability)
  if (record.listenAddrs.length === 0) record.listenAddrs = listenAddrs()
  if (record.issuedAtMs === 0n) record.issuedAtMs = BigInt(Date.now())
  return record
}

/**
 * The handler of the capabilities protocol: ignores the request and answers with the encoded
 * `SignedEnvelope` of the node's CAPABILITY, signed with the node key. A fixed record is signed once.
 */
export function capabilityHandler(
  source: CapabilitySource,
  signer: Signer,
  listenAddrs: () => string[],
): ProtocolHandler {
  if (typeof source !== 'function') {
    const signed = encodeEnvelope(signEnvelope('CAPABILITY', completeCapability(source, listenAddrs), signer))
    return () => signed
  }
  return async () => {
    const capability = completeCapability(await source(), listenAddrs)
    return encodeEnvelope(signEnvelope('CAPABILITY', capability, signer))
  }
}

/**
 * Reads and checks a capability response: the envelope must be a CAPABILITY signed by the key inside the
 * answering peer's PeerId, and not expired (`expiresAtMs` of 0 means no expiry).
 *
 * @throws {InvalidSignatureError | UnexpectedEnvelopeError | MalformedMessageError} from `openEnvelope`
 * @throws {StaleCapabilityError} the record has expired
 */
export function openCapabilityResponse(
  stream: Pick<FramedStream, 'remotePeer'>,
  bytes: Uint8Array,
): CapabilityRecord {
  const peerId = stream.remotePeer
  const { message, envelope } = openEnvelope('CAPABILITY', decodeEnvelope(bytes), {
    signer: publicKeyFromPeerId(peerId),
  })
  if (message.expiresAtMs !== 0n && message.expiresAtMs < BigInt(Date.now())) {
    throw new StaleCapabilityError(peerId.toString(), Number(message.expiresAtMs))
  }
  return { peerId, capability: message, envelope }
}
