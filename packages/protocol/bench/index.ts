/**
 * @infraxa/protocol benchmarks (`pnpm --filter @infraxa/protocol bench`): envelope signing and opening,
 * message encoding and decoding. Medians of this run; the ratio compares opening (verify + decode) with
 * signing (encode + sign).
 */
import {
  create,
  decodeEnvelope,
  decodeMessage,
  ed25519Signer,
  encodeEnvelope,
  encodeMessage,
  InferenceRequestSchema,
  InferenceResponseSchema,
  openEnvelope,
  signEnvelope,
} from '../src/index.js'

function median(fn: () => void, runs: number): number {
  for (let i = 0; i < 20; i++) fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

const signer = ed25519Signer(new Uint8Array(32).fill(1))
const request = create(InferenceRequestSchema, {
  jobId: new Uint8Array(16).fill(1),
  modelHash: new Uint8Array(32).fill(2),
  messages: [{ role: 'user', content: 'Once upon a time '.repeat(20) }],
  sampling: { temperature: 0.7, seed: 1n, maxTokens: 256 },
  commitTopK: 8,
  verificationMode: 'merkle',
  routerNonce: new Uint8Array(32),
  deadlineMs: 1n,
  providerPublicKey: signer.publicKey,
})
const response = create(InferenceResponseSchema, {
  jobId: new Uint8Array(16).fill(1),
  promptTokens: Array.from({ length: 512 }, (_, i) => i * 37),
  outputTokens: Array.from({ length: 256 }, (_, i) => i * 91),
  transcriptRoot: new Uint8Array(32),
  stepCount: 256,
})
const wire = encodeEnvelope(signEnvelope('INFERENCE_REQUEST', request, signer))
const responseBytes = encodeMessage('INFERENCE_RESPONSE', response)

const sign = median(() => encodeEnvelope(signEnvelope('INFERENCE_REQUEST', request, signer)), 500)
const open = median(
  () => openEnvelope('INFERENCE_REQUEST', decodeEnvelope(wire), { signer: signer.publicKey }),
  500,
)
const encode = median(() => encodeMessage('INFERENCE_RESPONSE', response), 2000)
const decode = median(() => decodeMessage('INFERENCE_RESPONSE', responseBytes), 2000)

const rows = [
  ['sign + encode a request envelope', `${(sign * 1000).toFixed(0)} µs`, `${wire.length} B`],
  ['decode + verify + open it', `${(open * 1000).toFixed(0)} µs`, `${(open / sign).toFixed(2)}× signing`],
  ['encode a 256-token response', `${(encode * 1000).toFixed(1)} µs`, `${responseBytes.length} B`],
  ['decode it', `${(decode * 1000).toFixed(1)} µs`, `${(decode / encode).toFixed(2)}× encoding`],
]
for (const r of rows) console.log(`${r[0]!.padEnd(36)} ${r[1]!.padStart(9)}  ${r[2]}`)
