import { createPrivateKey, sign as nodeSign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  create,
  decodeEnvelope,
  ed25519Signer,
  encodeEnvelope,
  envelopeSigningBytes,
  InferenceRequestSchema,
  InvalidSignatureError,
  openEnvelope,
  requestHash,
  signEnvelope,
  UnexpectedEnvelopeError,
} from '../src/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const seedA = Uint8Array.from({ length: 32 }, (_, i) => i)
const seedB = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)

function fixedRequest() {
  return create(InferenceRequestSchema, {
    jobId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    modelHash: new Uint8Array(32).fill(0xab),
    messages: [{ role: 'user', content: 'What is 2+2?' }],
    sampling: { temperature: 0, seed: 42n, maxTokens: 16, stop: ['\n'] },
    commitTopK: 8,
    verificationMode: 'merkle',
    routerNonce: new Uint8Array(32).fill(7),
    deadlineMs: 1_800_000_000_000n,
    providerPublicKey: new Uint8Array(32).fill(9),
  })
}

/** Independent Ed25519 (OpenSSL via node:crypto) to check our signatures against. */
function opensslSign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  return new Uint8Array(nodeSign(null, message, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })))
}

describe('signed envelope', () => {
  it('signs a fixed payload with a fixed key to fixed bytes (golden)', () => {
    const envelope = signEnvelope('INFERENCE_REQUEST', fixedRequest(), ed25519Signer(seedA))
    expect(envelope.domain).toBe('infraxa/v1/inference-request')
    expect(envelope.payloadType).toBe('infraxa.v1.InferenceRequest')
    expect(hex(envelope.publicKey)).toBe('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8')
    expect(hex(envelope.payload)).toBe(GOLDEN_PAYLOAD)
    expect(hex(envelope.signature)).toBe(GOLDEN_SIGNATURE)
    // The same signature from an independent Ed25519 implementation over the documented signing bytes.
    const signingBytes = envelopeSigningBytes(envelope.domain, envelope.payloadType, envelope.payload)
    expect(hex(opensslSign(seedA, signingBytes))).toBe(GOLDEN_SIGNATURE)
    expect(hex(requestHash(envelope))).toBe(GOLDEN_REQUEST_HASH)
  })

  it('round-trips through the wire encoding and opens', () => {
    const signer = ed25519Signer(seedA)
    const envelope = signEnvelope('INFERENCE_REQUEST', fixedRequest(), signer)
    const opened = openEnvelope('INFERENCE_REQUEST', decodeEnvelope(encodeEnvelope(envelope)), {
      signer: signer.publicKey,
    })
    expect(opened.message.messages[0]?.content).toBe('What is 2+2?')
    expect(opened.message.sampling?.seed).toBe(42n)
  })

  const tamperings: Array<[string, (e: ReturnType<typeof signEnvelope>) => void, unknown]> = [
    [
      'payload',
      (e) => {
        e.payload = Uint8Array.from(e.payload)
        e.payload[5]! ^= 1
      },
      InvalidSignatureError,
    ],
    [
      'signature',
      (e) => {
        e.signature = Uint8Array.from(e.signature)
        e.signature[0]! ^= 1
      },
      InvalidSignatureError,
    ],
    [
      'public key',
      (e) => {
        e.publicKey = ed25519Signer(seedB).publicKey
      },
      InvalidSignatureError,
    ],
    [
      'short public key',
      (e) => {
        e.publicKey = e.publicKey.slice(0, 31)
      },
      InvalidSignatureError,
    ],
    [
      'domain',
      (e) => {
        e.domain = 'infraxa/v1/capability'
      },
      UnexpectedEnvelopeError,
    ],
    [
      'payload type',
      (e) => {
        e.payloadType = 'infraxa.v1.Capability'
      },
      UnexpectedEnvelopeError,
    ],
  ]
  for (const [what, tamper, error] of tamperings) {
    it(`rejects a tampered ${what}`, () => {
      const envelope = signEnvelope('INFERENCE_REQUEST', fixedRequest(), ed25519Signer(seedA))
      tamper(envelope)
      expect(() => openEnvelope('INFERENCE_REQUEST', envelope)).toThrow(error as never)
    })
  }

  it('rejects a re-labelled domain even when re-signed by the attacker as another kind', () => {
    const envelope = signEnvelope('INFERENCE_REQUEST', fixedRequest(), ed25519Signer(seedA))
    expect(() => openEnvelope('CAPABILITY', envelope)).toThrow(UnexpectedEnvelopeError)
  })

  it('rejects an envelope signed by key A presented as key B', () => {
    const envelope = signEnvelope('INFERENCE_REQUEST', fixedRequest(), ed25519Signer(seedA))
    expect(() =>
      openEnvelope('INFERENCE_REQUEST', envelope, { signer: ed25519Signer(seedB).publicKey }),
    ).toThrow(UnexpectedEnvelopeError)
  })

  it('changes the request hash when any signed byte changes', () => {
    const a = signEnvelope('INFERENCE_REQUEST', fixedRequest(), ed25519Signer(seedA))
    const other = fixedRequest()
    other.routerNonce = new Uint8Array(32).fill(8)
    const b = signEnvelope('INFERENCE_REQUEST', other, ed25519Signer(seedA))
    expect(hex(requestHash(a))).not.toBe(hex(requestHash(b)))
  })
})

const GOLDEN_PAYLOAD =
  '0a100102030405060708090a0b0c0d0e0f101220abababababababababababababababababababababababababababababababab1a140a0475736572120c5768617420697320322b323f2207102a181022010a280832066d65726b6c653a2007070707070707070707070707070707070707070707070707070707070707074080a0f1c2b1344a200909090909090909090909090909090909090909090909090909090909090909'
const GOLDEN_SIGNATURE =
  '73ae926351fc6295cecf7d99f63e268a70e230a185afe1f9118c9f26b3b3a02672165bd159e79ddb205388caae8e082512bd0bc498841a09dd8cd6c1b1979b01'
const GOLDEN_REQUEST_HASH = '27dff953071ca212c5f42183db2a37dc081cba6f5f230bc78cba24a8bfe1518f'

describe('ERROR messages', () => {
  it('keeps the code of an InfraxaError and hides the text of anything else', async () => {
    const { toErrorMessage, RemoteError, MessageTooLargeError } = await import('../src/index.js')
    const known = toErrorMessage(new MessageTooLargeError('TOKEN_CHUNK', 10, 5))
    expect(known.code).toBe('ERR_MESSAGE_TOO_LARGE')
    const unknown = toErrorMessage(new Error('/secret/path leaked'))
    expect(unknown.code).toBe('ERR_INTERNAL')
    expect(unknown.message).not.toContain('secret')
    const remote = new RemoteError(known)
    expect(remote.code).toBe('ERR_MESSAGE_TOO_LARGE')
  })
})
