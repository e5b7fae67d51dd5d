/**
 * zk_snark mode for sampled answers (temperature > 0, the poseidon-gumbel rule) with the committed
 * release circuit `sampled_t8_k8`: real Groth16 proofs of toy-model transcripts sampled at T = 0.9.
 * Honest proofs verify; the same proof read with another seed, another temperature, other tokens, or
 * as the proof of a greedy request is rejected; the prover refuses what the circuit cannot prove; the
 * mode passes the compliance suite on sampled cases.
 */
import { type ComplianceCase, runModeCompliance } from '@infraxa/proofs/compliance'
import { sampleToken } from '@infraxa/proofs/sampling'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ToyModel } from '../../proofs/test/fixtures/toy-model.js'
import {
  createZkProver,
  DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR,
  loadZkArtifacts,
  releaseSnarkjsThreads,
  verifyZkTranscript,
  type ZkProver,
  type ZkTranscriptProofData,
  ZkUnprovableError,
  zkSnarkMode,
} from '../src/index.js'
import { makeZkExchange, proveExchange, resign, type ZkExchange, zkInput } from './support/exchange.js'

const model = new ToyModel(1)
const greedyArtifacts = loadZkArtifacts()
const artifacts = loadZkArtifacts(DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR)
const mode = zkSnarkMode({ artifacts: greedyArtifacts, sampledArtifacts: artifacts })
const sampling = { temperature: 0.9, seed: 1234n }
const shape = { windowSize: artifacts.windowSize, topK: artifacts.topK }
const sampled = (jobByte: number, maxTokens: number) =>
  makeZkExchange({ model, jobByte, maxTokens, ...sampling, rule: 1, content: `sampled ${jobByte}` }, shape)

let prover: ZkProver
const proved: Record<string, { x: ZkExchange; proof: ZkTranscriptProofData }> = {}

beforeAll(async () => {
  prover = createZkProver({ artifacts })
  for (const [name, x] of Object.entries({
    twelve: sampled(1, 12),
    eight: sampled(2, 8),
    one: sampled(3, 1),
  })) {
    proved[name] = { x, proof: await proveExchange(prover, x, sampling) }
  }
})

afterAll(async () => {
  await prover?.close()
  await releaseSnarkjsThreads()
})

describe('zk_snark mode, sampled answers (poseidon-gumbel, T = 8 windows)', () => {
  it('the release circuit proves the poseidon-gumbel rule over windows of 8', () => {
    expect(artifacts.rule).toBe('poseidon-gumbel')
    expect(artifacts.windowSize).toBe(8)
    expect(artifacts.vkey.nPublic).toBe(5 + 8)
  })

  it('honest sampled answers verify, and they are not greedy ones', async () => {
    for (const { x, proof } of Object.values(proved)) {
      const r = await mode.verify(zkInput(x, proof), {})
      expect(r.valid ? r.details : r.reason).toMatchObject({ rule: 'poseidon-gumbel', steps: x.steps.length })
    }
    // The noise decided some tokens: the proofs are about sampling, not argmax.
    const steps = [...proved.twelve!.x.steps, ...proved.eight!.x.steps]
    const notGreedy = steps.filter(
      (s) => s.token !== sampleToken(s.topIds, s.topLogprobs, { temperature: 0, seed: 0n }, s.step),
    )
    expect(notGreedy.length).toBeGreaterThan(0)
  })

  it('the proof holds only for the seed, temperature and tokens it was made for', async () => {
    const { x, proof } = proved.twelve!
    const verify = (s: { temperature: number; seed: bigint }, outputTokens = x.response.outputTokens) =>
      verifyZkTranscript({
        artifacts,
        jobId: x.jobId,
        zkRoot: x.response.zkRoot,
        outputTokens,
        proof,
        sampling: s,
      })
    expect((await verify(sampling)).ok).toBe(true)
    expect((await verify({ ...sampling, seed: sampling.seed + 1n })).ok).toBe(false)
    expect((await verify({ ...sampling, temperature: 1.3 })).ok).toBe(false)
    const other = x.response.outputTokens.map((t, i) => (i === 9 ? (t + 1) % 64 : t))
    expect(await verify(sampling, other)).toMatchObject({
      ok: false,
      reason: /window 1 proof does not verify/,
    })
    // Without the job's sampling a sampled circuit cannot be checked at all.
    expect(
      await verifyZkTranscript({
        artifacts,
        jobId: x.jobId,
        zkRoot: x.response.zkRoot,
        outputTokens: x.response.outputTokens,
        proof,
      }),
    ).toMatchObject({ ok: false, reason: /needs the job's temperature/ })
  })

  it('a sampled proof is no proof of a greedy request, and a greedy proof none of a sampled one', async () => {
    const { x, proof } = proved.eight!
    const greedy = makeZkExchange({ model, jobByte: 2, maxTokens: 8, content: 'sampled 2' })
    const r = await mode.verify(zkInput(greedy, { ...proof, zkRoot: greedy.response.zkRoot }), {})
    expect(r.valid ? '' : r.reason).toMatch(
      /windows of 8 steps; the circuit proves 16|another verification key/,
    )
    const greedyProver = createZkProver({ artifacts: greedyArtifacts })
    try {
      const greedyProof = await proveExchange(greedyProver, greedy)
      const r2 = await mode.verify(
        zkInput(x, { ...greedyProof, jobId: x.jobId, zkRoot: x.response.zkRoot }),
        {},
      )
      expect(r2.valid ? '' : r2.reason).toMatch(
        /windows of 16 steps; the circuit proves 8|another verification key/,
      )
    } finally {
      await greedyProver.close()
    }
  })

  it('reports progress after every window', async () => {
    const { x } = proved.twelve!
    const seen: string[] = []
    await prover.proveTranscript({
      jobId: x.jobId,
      steps: x.steps,
      sampling,
      onProgress: (p) => seen.push(`${p.windowsDone}/${p.windows}`),
    })
    expect(seen).toEqual(['1/2', '2/2'])
  })

  it('the prover refuses what the circuit cannot prove', async () => {
    const { x } = proved.eight!
    await expect(prover.proveTranscript({ jobId: x.jobId, steps: x.steps })).rejects.toBeInstanceOf(
      ZkUnprovableError,
    )
    // Sampled under the default HMAC rule: not the poseidon-gumbel choice at some step.
    const hmac = makeZkExchange({ model, jobByte: 4, maxTokens: 12, ...sampling, rule: 0 }, shape)
    await expect(proveExchange(prover, hmac, sampling)).rejects.toThrow(/not the poseidon-gumbel choice/)
    // Candidates out of canonical order.
    const swapped = x.steps.map((s, t) =>
      t === 2
        ? {
            ...s,
            topIds: [s.topIds[1]!, s.topIds[0]!, ...s.topIds.slice(2)],
            topLogprobs: [s.topLogprobs[1]!, s.topLogprobs[0]!, ...s.topLogprobs.slice(2)],
          }
        : s,
    )
    await expect(prover.proveTranscript({ jobId: x.jobId, steps: swapped, sampling })).rejects.toThrow(
      /canonical order/,
    )
    const greedyProver = createZkProver({ artifacts: greedyArtifacts })
    try {
      await expect(
        greedyProver.proveTranscript({ jobId: x.jobId, steps: x.steps, sampling }),
      ).rejects.toBeInstanceOf(ZkUnprovableError)
    } finally {
      await greedyProver.close()
    }
  })

  it('passes the compliance suite on sampled cases', async () => {
    const honest: ComplianceCase[] = Object.entries(proved).map(([name, { x, proof }]) => ({
      name: `sampled ${name}`,
      input: zkInput(x, proof),
      context: {},
    }))
    const { x, proof } = proved.twelve!
    const attacks: ComplianceCase[] = [
      {
        name: 'a sampled token changed after proving',
        input: zkInput(x, proof, {
          response: resign(x, (r) => {
            r.outputTokens = r.outputTokens.map((t, i) => (i === 4 ? (t + 3) % 64 : t))
          }),
        }),
        context: {},
      },
      {
        name: 'window proofs swapped',
        input: zkInput(x, {
          ...proof,
          windows: [
            { ...proof.windows[1]!, index: 0 },
            { ...proof.windows[0]!, index: 1 },
          ],
        }),
        context: {},
      },
    ]
    const report = await runModeCompliance({ mode, honestCases: honest, attackCases: attacks })
    expect(report.failures).toEqual([])
  })
})
