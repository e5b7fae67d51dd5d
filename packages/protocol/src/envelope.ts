import { create } from '@bufbuild/protobuf'
import { decodeMessage, encodeMessage, type MessageOf } from './codec.js'
import { ed25519KeyPair, ed25519Sign, ed25519Verify } from './ed25519.js'
import { InvalidArgumentError, InvalidSignatureError, UnexpectedEnvelopeError } from './errors.js'
import { type SignedEnvelope, SignedEnvelopeSchema } from './gen/infraxa/v1/envelope_pb.js'
import { MESSAGE_KINDS, type SignedKind } from './kinds.js'

export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

/** Something that signs with an Ed25519 key: a raw secret key, a libp2p node key, a hardware key. */
export interface Signer {
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** Ed25519 signature (64 bytes) over `message`. */
  sign(message: Uint8Array): Uint8Array
}

/**
 * A {@link Signer} over a 32-byte Ed25519 secret key (the RFC 8032 seed).
 *
 * @example
 * const signer = ed25519Signer(ed25519.utils.randomSecretKey())
 */
export function ed25519Signer(secretKey: Uint8Array): Signer {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new InvalidArgumentError('ed25519Signer: secret key must be 32 bytes')
  }
  const { privateKey, publicKey } = ed25519KeyPair(secretKey)
  return { publicKey, sign: (message) => ed25519Sign(privateKey, message) }
}

const utf8 = new TextEncoder()

/**
 * The exact bytes an envelope signature covers:
 * `u16be(len(domain)) ‖ domain ‖ u16be(len(payloadType)) ‖ payloadType ‖ payload`.
 * Lengths make the split unambiguous; the payload is taken as sent, never re-encoded.
 */
export function envelopeSigningBytes(domain: string, payloadType: string, payload: Uint8Array): Uint8Array {
  const d = utf8.encode(domain)
  const t = utf8.encode(payloadType)
  if (d.length > 0xffff || t.length > 0xffff)
    throw new InvalidArgumentError('domain or payload type too long')
  const out = new Uint8Array(2 + d.length + 2 + t.length + payload.length)
  const view = new DataView(out.buffer)
  view.setUint16(0, d.length)
  out.set(d, 2)
  view.setUint16(2 + d.length, t.length)
  out.set(t, 4 + d.length)
  out.set(payload, 4 + d.length + t.length)
  return out
}

function kindInfo(kind: SignedKind): { domain: string; payloadType: string } {
  const info = MESSAGE_KINDS[kind]
  return { domain: info.domain, payloadType: info.schema.typeName }
}

/**
 * Encodes `message` and signs it into an envelope of `kind`.
 *
 * @example
 * const envelope = signEnvelope('INFERENCE_REQUEST', request, signer)
 */
export function signEnvelope<K extends SignedKind>(
  kind: K,
  message: MessageOf<K>,
  signer: Signer,
): SignedEnvelope {
  return signPayload(kind, encodeMessage(kind, message), signer)
}

/** Signs already-encoded payload bytes of `kind` into an envelope. */
export function signPayload(kind: SignedKind, payload: Uint8Array, signer: Signer): SignedEnvelope {
  const { domain, payloadType } = kindInfo(kind)
  const signature = signer.sign(envelopeSigningBytes(domain, payloadType, payload))
  return create(SignedEnvelopeSchema, {
    domain,
    payloadType,
    payload,
    publicKey: Uint8Array.from(signer.publicKey),
    signature,
  })
}

/** Whether the envelope's signature verifies over its own domain, type and payload (kind not checked). */
export function verifyEnvelopeSignature(envelope: SignedEnvelope): boolean {
  if (envelope.publicKey.length !== PUBLIC_KEY_BYTES || envelope.signature.length !== SIGNATURE_BYTES)
    return false
  return ed25519Verify(
    envelope.signature,
    envelopeSigningBytes(envelope.domain, envelope.payloadType, envelope.payload),
    envelope.publicKey,
  )
}

export interface OpenEnvelopeOptions {
  /** When set, the envelope must be signed by this 32-byte public key. */
  signer?: Uint8Array
}

export interface OpenedEnvelope<K extends SignedKind> {
  message: MessageOf<K>
  /** The payload bytes exactly as signed (hash these, never a re-encoding). */
  payload: Uint8Array
  publicKey: Uint8Array
  envelope: SignedEnvelope
}

/**
 * Checks an envelope is of `kind`, is signed (by `options.signer` when given) and decodes its payload.
 *
 * @throws {UnexpectedEnvelopeError} wrong domain, payload type or signer
 * @throws {InvalidSignatureError} the signature does not verify
 * @throws {MalformedMessageError | MessageTooLargeError} the payload does not decode
 */
export function openEnvelope<K extends SignedKind>(
  kind: K,
  envelope: SignedEnvelope,
  options: OpenEnvelopeOptions = {},
): OpenedEnvelope<K> {
  const { domain, payloadType } = kindInfo(kind)
  if (envelope.domain !== domain) {
    throw new UnexpectedEnvelopeError(`domain "${envelope.domain}" where "${domain}" was expected`)
  }
  if (envelope.payloadType !== payloadType) {
    throw new UnexpectedEnvelopeError(
      `payload type "${envelope.payloadType}" where "${payloadType}" was expected`,
    )
  }
  if (envelope.publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new InvalidSignatureError(`public key of ${envelope.publicKey.length} bytes`)
  }
  if (options.signer !== undefined && !bytesEqual(options.signer, envelope.publicKey)) {
    throw new UnexpectedEnvelopeError('signed by another key than expected')
  }
  if (!verifyEnvelopeSignature(envelope)) throw new InvalidSignatureError()
  const message = decodeMessage(kind, envelope.payload)
  return { message, payload: envelope.payload, publicKey: envelope.publicKey, envelope }
}

/** Encodes an envelope for the wire. */
export function encodeEnvelope(envelope: SignedEnvelope): Uint8Array {
  return encodeMessage('SIGNED_ENVELOPE', envelope)
}

/** Decodes an envelope from the wire (structure only; {@link openEnvelope} checks it). */
export function decodeEnvelope(bytes: Uint8Array): SignedEnvelope {
  return decodeMessage('SIGNED_ENVELOPE', bytes)
}

/** Constant-time comparison of two byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
