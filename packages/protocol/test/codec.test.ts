import { create } from '@bufbuild/protobuf'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeMessage,
  InfraxaError,
  MalformedMessageError,
  MESSAGE_KINDS,
  type MessageKind,
  MessageTooLargeError,
} from '../src/index.js'

const kinds = Object.keys(MESSAGE_KINDS) as MessageKind[]

/** One fully populated example per kind, so a round trip exercises every field. */
const examples: { [K in MessageKind]: Record<string, unknown> } = {
  INFERENCE_REQUEST: {
    jobId: new Uint8Array(16).fill(1),
    modelHash: new Uint8Array(32).fill(2),
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi ✓' },
    ],
    sampling: { temperature: 0.7, seed: 2n ** 63n, maxTokens: 64, stop: ['\n\n', 'END'] },
    commitTopK: 8,
    verificationMode: 'merkle',
    routerNonce: new Uint8Array(32).fill(3),
    deadlineMs: 1_900_000_000_000n,
    providerPublicKey: new Uint8Array(32).fill(4),
  },
  TOKEN_CHUNK: { jobId: new Uint8Array(16).fill(1), step: 7, token: 1234 },
  INFERENCE_RESPONSE: {
    jobId: new Uint8Array(16).fill(1),
    requestHash: new Uint8Array(32).fill(5),
    modelHash: new Uint8Array(32).fill(2),
    engine: {
      engine: 'node-llama-cpp',
      engineVersion: '3.21.1',
      backend: 'cpu',
      build: 'x64',
      batchSize: 64,
      flashAttention: true,
      kvCacheType: 'f16',
      contextSize: 2048,
      threads: 2,
    },
    promptTokens: [1, 2, 3, 65535, 150000],
    promptTokenHash: new Uint8Array(32).fill(6),
    outputTokens: [10, 11, 12],
    transcriptRoot: new Uint8Array(32).fill(7),
    stepCount: 3,
    commitTopK: 8,
    finishReason: 'eog',
    timings: { queueMs: 1, promptMs: 2, generateMs: 3, totalMs: 6 },
  },
  INFERENCE_FRAME: {
    frame: { case: 'chunk', value: { jobId: new Uint8Array(16), step: 1, token: 2 } },
  },
  AUDIT_CHALLENGE: {
    jobId: new Uint8Array(16).fill(1),
    transcriptRoot: new Uint8Array(32).fill(7),
    steps: [0, 5, 9, 200],
    vrfPublicKey: new Uint8Array(32).fill(8),
    vrfOutput: new Uint8Array(64).fill(9),
    vrfProof: new Uint8Array(80).fill(10),
  },
  AUDIT_PROOF: {
    jobId: new Uint8Array(16).fill(1),
    transcriptRoot: new Uint8Array(32).fill(7),
    stepCount: 256,
    openings: [{ step: 3, token: 9, topIds: [9, 1, 2], topLogprobs: [-10, -200000, -2147483648] }],
    siblings: [new Uint8Array(32).fill(11), new Uint8Array(32).fill(12)],
  },
  FRAUD_PROOF: {
    request: {
      domain: 'd',
      payloadType: 't',
      payload: new Uint8Array([1]),
      publicKey: new Uint8Array(32),
      signature: new Uint8Array(64),
    },
    opening: { step: 1, token: 2, topIds: [2], topLogprobs: [-5] },
    siblings: [new Uint8Array(32)],
    recomputed: { step: 1, token: 3, topIds: [3], topLogprobs: [-1] },
    bond: 1000n,
  },
  FRAUD_VERDICT: {
    fraudProofHash: new Uint8Array(32),
    jobId: new Uint8Array(16),
    fraud: true,
    reason: 'token',
    decidedAtMs: 5n,
  },
  CAPABILITY: {
    models: [
      {
        modelHash: new Uint8Array(32),
        name: 'stories260K',
        architecture: 'llama',
        quantization: 'F32',
        parameterCount: 260000n,
        contextLength: 512,
        vocabSize: 512,
        maxConcurrentJobs: 2,
        activeJobs: 1,
      },
    ],
    verificationModes: ['merkle', 'fraud_proof'],
    maxPromptTokens: 1024,
    maxOutputTokens: 512,
    maxCommitTopK: 16,
    stake: 10n,
    loadPermille: 500,
    listenAddrs: ['/ip4/127.0.0.1/tcp/4001'],
    issuedAtMs: 1n,
    expiresAtMs: 2n,
  },
  ZK_PROOF: {
    jobId: new Uint8Array(16),
    zkRoot: new Uint8Array(32).fill(1),
    windowSize: 8,
    stepCount: 12,
    windows: [{ index: 0, windowRoot: new Uint8Array(32).fill(2), proof: new Uint8Array(256).fill(3) }],
    vkeyHash: new Uint8Array(32),
  },
  RECEIPT: {
    jobId: new Uint8Array(16),
    verificationMode: 'merkle',
    verdict: 'verified',
    reason: '',
    issuedAtMs: 3n,
    modeProof: new Uint8Array(3),
  },
  CONSENSUS_EVIDENCE: {
    requests: [
      {
        domain: 'd',
        payloadType: 't',
        payload: new Uint8Array(4),
        publicKey: new Uint8Array(32),
        signature: new Uint8Array(64),
      },
    ],
    responses: [],
  },
  PAYMENT_VOUCHER: {
    contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    channel: new Uint8Array(32).fill(4),
    amount: '12000000000000',
    signature: new Uint8Array(65).fill(5),
    jobIds: [new Uint8Array(16).fill(6)],
  },
  PAYMENT_ACK: { channel: new Uint8Array(32).fill(4), amount: '12000000000000' },
  ERROR: { code: 'ERR_RATE_LIMITED', message: 'slow down', jobId: new Uint8Array(16), retryAfterMs: 100 },
  SIGNED_ENVELOPE: {
    domain: 'd',
    payloadType: 't',
    payload: new Uint8Array([1, 2]),
    publicKey: new Uint8Array(32),
    signature: new Uint8Array(64),
  },
}

describe('codec', () => {
  for (const kind of kinds) {
    it(`round-trips a populated ${kind}`, () => {
      const message = create(MESSAGE_KINDS[kind].schema as any, examples[kind]) as any
      const bytes = encodeMessage(kind, message)
      expect(bytes.length).toBeGreaterThan(0)
      const decoded = decodeMessage(kind, bytes)
      expect(encodeMessage(kind, decoded as never)).toEqual(bytes)
      expect(decoded).toMatchObject(examples[kind])
    })
  }

  it('rejects oversized input before decoding', () => {
    for (const kind of kinds) {
      const limit = MESSAGE_KINDS[kind].maxBytes
      // Valid-looking bytes (a long repeated field) that would decode if size were not checked first.
      const big = new Uint8Array(limit + 1)
      expect(() => decodeMessage(kind, big)).toThrow(MessageTooLargeError)
    }
  })

  it('refuses to encode a message over its limit', () => {
    const huge = create(MESSAGE_KINDS.TOKEN_CHUNK.schema, { jobId: new Uint8Array(5000) })
    expect(() => encodeMessage('TOKEN_CHUNK', huge)).toThrow(MessageTooLargeError)
  })

  it('rejects a truncated encoding with a typed error', () => {
    const bytes = encodeMessage(
      'INFERENCE_REQUEST',
      create(MESSAGE_KINDS.INFERENCE_REQUEST.schema, examples.INFERENCE_REQUEST as any),
    )
    expect(() => decodeMessage('INFERENCE_REQUEST', bytes.subarray(0, bytes.length - 3))).toThrow(
      MalformedMessageError,
    )
  })

  it('gives a typed error or a valid message for 10,000 random byte strings per decoder', () => {
    for (const kind of kinds) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
          try {
            decodeMessage(kind, bytes)
          } catch (error) {
            if (!(error instanceof InfraxaError)) throw error
            expect(error).toBeInstanceOf(MalformedMessageError)
          }
        }),
        { numRuns: 10_000, seed: 20261126 },
      )
    }
  })
})
