/**
 * @infraxa/proofs benchmarks: `pnpm --filter @infraxa/proofs bench`. Prints medians and ratios measured
 * in this run; no thresholds (targets are read, not asserted).
 */
import {
  AuditProofSchema,
  create,
  ed25519Signer,
  encodeMessage,
  InferenceResponseSchema,
  signEnvelope,
} from '@infraxa/protocol'
import { createAuditChallenge, vrfProve, vrfPublicKey, vrfVerify } from '../src/audit/index.js'
import { createSampler } from '../src/sampling/index.js'
import { buildTranscript, openSteps, verifyOpenings } from '../src/transcript/index.js'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function time(fn: () => void, runs: number): number {
  fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    fn()
    samples.push(performance.now() - t0)
  }
  return median(samples)
}

function steps(n: number, k: number) {
  return Array.from({ length: n }, (_, t) => ({
    token: (t * 31) % 32000,
    topK: Array.from({ length: k }, (_, i) => ({
      id: (t * 31 + i * 977) % 32000,
      logprob: -0.05 - i * 0.9 - (t % 7) / 10,
    })),
  }))
}

const jobId = new Uint8Array(16).fill(7)
const rows: string[][] = [['measure', 'median', 'note']]

for (const n of [256, 4096]) {
  const s = steps(n, 8)
  const build = time(() => buildTranscript(jobId, s), n > 1000 ? 9 : 31)
  const t = buildTranscript(jobId, s)
  const challenge = [3, n >> 2, n >> 1, n - 2]
  const open = time(() => openSteps(t, challenge), 101)
  const proof = openSteps(t, challenge)
  const verify = time(() => verifyOpenings(t.root, jobId, n, proof, 8), 101)
  rows.push([
    `build transcript, ${n} steps (k = 8)`,
    `${build.toFixed(2)} ms`,
    `${((build * 1000) / n).toFixed(1)} µs/step`,
  ])
  rows.push([
    `open 4 steps of ${n}`,
    `${(open * 1000).toFixed(0)} µs`,
    `${proof.siblings.length} shared siblings`,
  ])
  rows.push([`verify 4 openings of ${n}`, `${(verify * 1000).toFixed(0)} µs`, ''])
}

const sk = new Uint8Array(32).fill(9)
const pk = vrfPublicKey(sk)
const alpha = new Uint8Array(48).fill(1)
const pi = vrfProve(sk, alpha)
const prove = time(() => vrfProve(sk, alpha), 51)
const verify = time(() => vrfVerify(pk, alpha, pi), 51)
rows.push(['ECVRF prove', `${prove.toFixed(2)} ms`, `${(1000 / prove).toFixed(0)} /s`])
rows.push(['ECVRF verify', `${verify.toFixed(2)} ms`, `${(1000 / verify).toFixed(0)} /s`])

const choose = createSampler({ temperature: 0.8, seed: 1n })
const topK = steps(1, 8)[0]!.topK
const sample = time(() => {
  for (let t = 0; t < 100; t++) choose(topK, t)
}, 21)
rows.push(['sample one token (T = 0.8, k = 8)', `${((sample * 1000) / 100).toFixed(1)} µs`, ''])

// Size: audit proof for c = 4 at T = 256 steps, k = 8, plus the commitment in the response.
const T = 256
const s = steps(T, 8)
const t = buildTranscript(jobId, s)
const challenge = createAuditChallenge({ vrfSecretKey: sk, jobId, root: t.root, stepCount: T, c: 4 })
const opened = openSteps(t, challenge.steps)
const proofMessage = create(AuditProofSchema, {
  jobId,
  transcriptRoot: t.root,
  stepCount: T,
  openings: opened.openings.map((o) => ({ ...o, topIds: [...o.topIds], topLogprobs: [...o.topLogprobs] })),
  siblings: [...opened.siblings],
})
const signer = ed25519Signer(sk)
const proofBytes = encodeMessage('AUDIT_PROOF', proofMessage).length
const proofEnvelopeBytes = encodeMessage(
  'SIGNED_ENVELOPE',
  signEnvelope('AUDIT_PROOF', proofMessage, signer),
).length
// What the commitment adds to a response: root + step count + k fields.
const withRoot = encodeMessage(
  'INFERENCE_RESPONSE',
  create(InferenceResponseSchema, { transcriptRoot: t.root, stepCount: T, commitTopK: 8 }),
).length
const total = proofEnvelopeBytes + withRoot
rows.push(['audit proof, c = 4, T = 256, k = 8', `${proofBytes} B`, `${proofEnvelopeBytes} B signed`])
rows.push([
  'commitment + signed audit proof per token',
  `${(total / T).toFixed(2)} B/token`,
  'goal ≤ 8 B/token (TOPLOC: 8.06)',
])

const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i]!)).join('  '))
