/**
 * zk_snark mode end to end with the committed release circuit (T = 16, k = 8): real Groth16 proofs
 * of toy-model transcripts, made in worker threads. Honest proofs verify; a tampered proof, a changed
 * public token, root or window position, a proof for another verification key or from another setup
 * of the same circuit are rejected; the mode passes the compliance suite.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { MalformedVerificationInputError } from '@infraxa/proofs'
import { type ComplianceCase, runModeCompliance } from '@infraxa/proofs/compliance'
import { createModeRegistry, merkleMode } from '@infraxa/proofs/modes'
import { decodeEnvelope, encodeEnvelope, openEnvelope } from '@infraxa/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { otherSigner, providerSigner } from '../../proofs/test/fixtures/exchange.js'
import { ToyModel } from '../../proofs/test/fixtures/toy-model.js'
import {
  createZkProver,
  decodeProof,
  loadSnarkjs,
  loadZkArtifacts,
  releaseSnarkjsThreads,
  toSnarkjsProof,
  verificationKeyHash,
  verifyGroth16,
  verifyWindow,
  windowPublicSignals,
  ZK_SNARK_MODE_ID,
  type ZkProver,
  type ZkTranscriptProofData,
  ZkUnprovableError,
  zkSnarkMode,
} from '../src/index.js'
import { makeZkExchange, proveExchange, resign, type ZkExchange, zkInput } from './support/exchange.js'

const model = new ToyModel(1)
const artifacts = loadZkArtifacts()
const mode = zkSnarkMode({ artifacts })
let prover: ZkProver

interface Proved {
  x: ZkExchange
  proof: ZkTranscriptProofData
}
const proved: Record<string, Proved> = {}

const flip = (bytes: Uint8Array, at: number) => {
  const copy = Uint8Array.from(bytes)
  copy[at]! ^= 1
  return copy
}
const withWindows = (p: ZkTranscriptProofData, windows: ZkTranscriptProofData['windows']) => ({
  ...p,
  windows,
})

beforeAll(async () => {
  prover = createZkProver({ artifacts })
  const shapes: Record<string, Parameters<typeof makeZkExchange>[0]> = {
    twelve: { model, jobByte: 1, maxTokens: 12 },
    twenty: { model, jobByte: 2, maxTokens: 20, content: 'Twenty steps, two windows' },
    sixteen: { model, jobByte: 3, maxTokens: 16, content: 'Exactly one window' },
    one: { model, jobByte: 4, maxTokens: 1 },
  }
  for (const [name, o] of Object.entries(shapes)) {
    const x = makeZkExchange(o)
    proved[name] = { x, proof: await proveExchange(prover, x) }
  }
})

afterAll(async () => {
  await prover?.close()
  await releaseSnarkjsThreads()
})

const honestCase = (name: string): ComplianceCase => {
  const { x, proof } = proved[name]!
  return { name: `${name} (${x.steps.length} steps)`, input: zkInput(x, proof), context: {} }
}

function attackCases(): ComplianceCase[] {
  const { x, proof } = proved.twenty!
  const one = proved.twelve!
  const attack = (name: string, input: ComplianceCase['input']): ComplianceCase => ({
    name,
    input,
    context: {},
  })
  const w0 = proof.windows[0]!
  const w1 = proof.windows[1]!
  return [
    attack(
      'output token changed after proving (public token)',
      zkInput(x, proof, {
        response: resign(x, (r) => {
          r.outputTokens = r.outputTokens.map((t, i) => (i === 3 ? (t + 1) % 64 : t))
        }),
      }),
    ),
    attack(
      'last output token changed (second window)',
      zkInput(x, proof, {
        response: resign(x, (r) => {
          r.outputTokens = r.outputTokens.map((t, i) => (i === 19 ? (t + 5) % 64 : t))
        }),
      }),
    ),
    attack(
      'zk root of another job signed in the response',
      zkInput(x, proof, {
        response: resign(x, (r) => {
          r.zkRoot = one.x.response.zkRoot
        }),
      }),
    ),
    attack('proof for another zk root', zkInput(x, { ...proof, zkRoot: one.proof.zkRoot })),
    attack(
      'window proof bytes tampered (pi_c)',
      zkInput(x, withWindows(proof, [w0, { ...w1, proof: flip(w1.proof, 255) }])),
    ),
    attack(
      'window proof bytes tampered (pi_a)',
      zkInput(x, withWindows(proof, [{ ...w0, proof: flip(w0.proof, 31) }, w1])),
    ),
    attack(
      'window root changed',
      zkInput(x, withWindows(proof, [{ ...w0, windowRoot: flip(w0.windowRoot, 31) }, w1])),
    ),
    attack(
      'window proofs swapped (positions are public)',
      zkInput(
        x,
        withWindows(proof, [
          { ...w0, proof: w1.proof },
          { ...w1, proof: w0.proof },
        ]),
      ),
    ),
    attack(
      'windows swapped with their indices',
      zkInput(
        x,
        withWindows(proof, [
          { ...w1, index: 0 },
          { ...w0, index: 1 },
        ]),
      ),
    ),
    attack('window index changed', zkInput(x, withWindows(proof, [w0, { ...w1, index: 0 }]))),
    attack('a window left out', zkInput(x, withWindows(proof, [w0]))),
    attack(
      'step count truncated in response and proof (root binds the count)',
      zkInput(
        x,
        { ...withWindows(proof, [w0]), stepCount: 16 },
        {
          response: resign(x, (r) => {
            r.outputTokens = r.outputTokens.slice(0, 16)
            r.stepCount = 16
          }),
        },
      ),
    ),
    attack('another job’s proof', zkInput(x, one.proof)),
    attack('proof signed by another key', zkInput(x, proof, { signer: otherSigner })),
    attack(
      'proof claims another verification key',
      zkInput(x, { ...proof, vkeyHash: new Uint8Array(32).fill(1) }),
    ),
    attack('proof claims another window size', zkInput(x, { ...proof, windowSize: 8 })),
    attack('modeProof is not an envelope', { ...zkInput(x, proof), modeProof: new Uint8Array([1, 2, 3]) }),
    attack('modeProof is the response envelope', {
      ...zkInput(x, proof),
      modeProof: encodeEnvelope(x.responseEnvelope),
    }),
  ]
}

describe('zk_snark mode', () => {
  it('passes the compliance suite: honest proofs verify, every attack is rejected', async () => {
    const honest = ['twelve', 'twenty', 'sixteen', 'one'].map(honestCase)
    const report = await runModeCompliance({ mode, honestCases: honest, attackCases: attackCases() })
    expect(report.outcomes.filter((o) => o.kind === 'honest').every((o) => o.passed)).toBe(true)
    const reasons = report.outcomes
      .filter((o) => o.kind === 'attack')
      .map((o) => [o.name, o.result?.valid === false ? o.result.reason : o.error])
    for (const [name, reason] of reasons) expect(reason, name).toBeTruthy()
  })

  it('says why', async () => {
    const cases = attackCases()
    const reason = async (i: number) => {
      const r = await mode.verify(cases[i]!.input, {})
      return r.valid ? 'valid' : r.reason
    }
    expect(await reason(0)).toMatch(/window 0 proof does not verify/)
    expect(await reason(1)).toMatch(/window 1 proof does not verify/)
    expect(await reason(2)).toMatch(/another zk root/)
    expect(await reason(6)).toMatch(/do not combine/)
    expect(await reason(9)).toMatch(/says it is window 0/)
    expect(await reason(14)).toMatch(/another verification key/)
  })

  it('honest verification reports its shape', async () => {
    const r = await mode.verify(honestCase('twenty').input, {})
    expect(r).toEqual({
      valid: true,
      details: { windows: 2, windowSize: 16, rule: 'greedy', steps: 20, auditedStepsBound: 0 },
    })
  })

  it('rejects requests it cannot prove: temperature above 0, another k, another mode', async () => {
    // A greedy proof says nothing about a sampled request: the mode refuses the request itself.
    for (const [o, pattern] of [
      [
        { temperature: 0.8 },
        /poseidon-gumbel rule without top_p; the request has temperature 0.8, rule hmac-gumbel/,
      ],
      [{ mode: 'merkle' }, /verification mode "merkle"/],
    ] as const) {
      const x = makeZkExchange({ model, jobByte: 9, maxTokens: 3, ...o })
      const r = await mode.verify(zkInput(x, proved.one!.proof), {})
      expect(r.valid).toBe(false)
      expect(r.valid ? '' : r.reason).toMatch(pattern)
    }
    const k4 = makeZkExchange({ model, jobByte: 10, maxTokens: 3, k: 4 }, { windowSize: 16, topK: 4 })
    const r = await mode.verify(zkInput(k4, proved.one!.proof), {})
    expect(r.valid ? '' : r.reason).toMatch(/k = 8/)
  })

  it('throws a typed error when the caller omits the proof', async () => {
    const { x, proof } = proved.twelve!
    const input = zkInput(x, proof)
    await expect(
      mode.verify({ request: input.request, response: input.response }, {}),
    ).rejects.toBeInstanceOf(MalformedVerificationInputError)
  })

  it('registers next to the merkle mode', () => {
    const registry = createModeRegistry([merkleMode(), mode])
    expect(registry.get(ZK_SNARK_MODE_ID)).toBe(mode)
    expect(registry.ids()).toEqual(['merkle', 'zk_snark'])
  })
})

describe('prover', () => {
  it('refuses steps the circuit cannot prove: a non-greedy token, another k', async () => {
    const cheat = makeZkExchange({
      model,
      jobByte: 11,
      maxTokens: 5,
      cheat: (steps) => steps.map((s, t) => (t === 2 ? { ...s, token: s.topK[1]!.id } : s)),
    })
    await expect(prover.proveTranscript({ jobId: cheat.jobId, steps: cheat.steps })).rejects.toBeInstanceOf(
      ZkUnprovableError,
    )
    const k4 = makeZkExchange({ model, jobByte: 12, maxTokens: 3, k: 4 }, { windowSize: 16, topK: 4 })
    await expect(prover.proveTranscript({ jobId: k4.jobId, steps: k4.steps })).rejects.toBeInstanceOf(
      ZkUnprovableError,
    )
  })

  it('proves off the event loop: timers keep firing while a window is proved', async () => {
    const { x } = proved.twelve!
    let ticks = 0
    let maxGap = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
      ticks++
    }, 10)
    const start = performance.now()
    const window = await prover.proveWindow({ steps: x.steps, index: 0 })
    const elapsed = performance.now() - start
    clearInterval(timer)
    expect(window.proof.length).toBe(256)
    // A proof takes over a second; the loop must have run throughout (a blocked loop gives one long gap).
    expect(ticks).toBeGreaterThan(elapsed / 10 / 4)
    expect(maxGap).toBeLessThan(elapsed / 2)
  })
})

describe('Groth16 verification', () => {
  it('agrees with snarkjs on honest and tampered proofs', async () => {
    const snarkjs = await loadSnarkjs()
    const { x, proof } = proved.twenty!
    const vkeyJson = JSON.parse(
      readFileSync(join(dirname(artifacts.zkeyPath), artifacts.manifest.files.vkey.path), 'utf8'),
    )
    for (const [w, window] of proof.windows.entries()) {
      const signals = windowPublicSignals({
        windowRoot: decodeRoot(window.windowRoot),
        index: w,
        windowSize: 16,
        outputTokens: x.response.outputTokens,
      })
      const cases: [bigint[], Uint8Array, boolean][] = [
        [signals, window.proof, true],
        [signals.map((s, i) => (i === 3 ? s + 1n : s)), window.proof, false],
        [signals.map((s, i) => (i === 1 ? s + 1n : s)), window.proof, false],
        [signals.map((s, i) => (i === 0 ? s + 1n : s)), window.proof, false],
      ]
      for (const [publicSignals, bytes, expected] of cases) {
        const ours = await verifyGroth16(artifacts.vkey, [{ publicSignals, proof: bytes }])
        const theirs = await snarkjs.groth16.verify(
          vkeyJson,
          publicSignals.map(String),
          toSnarkjsProof(decodeProof(bytes)),
        )
        expect([ours, theirs]).toEqual([expected, expected])
      }
    }
    expect(
      await verifyGroth16(
        artifacts.vkey,
        proof.windows.map((window, w) => ({
          publicSignals: windowPublicSignals({
            windowRoot: decodeRoot(window.windowRoot),
            index: w,
            windowSize: 16,
            outputTokens: x.response.outputTokens,
          }),
          proof: window.proof,
        })),
      ),
    ).toBe(true)
    expect(
      await verifyWindow({ artifacts, outputTokens: x.response.outputTokens, window: proof.windows[1]! }),
    ).toBe(true)
    expect(
      await verifyWindow({
        artifacts,
        outputTokens: x.response.outputTokens,
        window: { ...proof.windows[1]!, index: 0 },
      }),
    ).toBe(false)
  })

  it('rejects proofs made with another setup of the same circuit (another proving key)', async () => {
    const snarkjs = await loadSnarkjs()
    const dir = mkdtempSync(join(tmpdir(), 'infraxa-zk-'))
    try {
      // A forger runs its own phase-2 contribution: it knows that key's secrets and can prove
      // anything for its verification key — never for ours.
      const forged = join(dir, 'forged.zkey')
      await snarkjs.zKey.beacon(artifacts.zkeyPath, forged, 'forger', 'ff'.repeat(32), 10)
      const forgedVkey = await snarkjs.zKey.exportVerificationKey(forged)
      const forger = createZkProver({ artifacts: { ...artifacts, zkeyPath: forged } })
      const { x } = proved.one!
      try {
        const { proof } = await forger.proveTranscript({ jobId: x.jobId, steps: x.steps })
        const [window] = proof.windows
        const publicSignals = windowPublicSignals({
          windowRoot: decodeRoot(window!.windowRoot),
          index: 0,
          windowSize: 16,
          outputTokens: x.response.outputTokens,
        })
        // Valid under the forger's key, invalid under ours, and the mode rejects it (even when the
        // forger claims our key's hash).
        expect(
          await snarkjs.groth16.verify(
            forgedVkey,
            publicSignals.map(String),
            toSnarkjsProof(decodeProof(window!.proof)),
          ),
        ).toBe(true)
        expect(await verifyGroth16(artifacts.vkey, [{ publicSignals, proof: window!.proof }])).toBe(false)
        expect(verificationKeyHash(artifacts.vkey)).toEqual(proof.vkeyHash)
        const r = await mode.verify(zkInput(x, proof), {})
        expect(r.valid ? '' : r.reason).toMatch(/window 0 proof does not verify/)
      } finally {
        await forger.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the encoded ZK_PROOF envelope opens to the proof, signed by the provider', () => {
    const { x, proof } = proved.twenty!
    const { modeProof } = zkInput(x, proof)
    const opened = openEnvelope('ZK_PROOF', decodeEnvelope(modeProof), { signer: providerSigner.publicKey })
    expect(opened.message.windows.map((w) => [w.index, w.windowRoot, w.proof])).toEqual(
      proof.windows.map((w) => [w.index, w.windowRoot, w.proof]),
    )
    expect(opened.message.zkRoot).toEqual(x.response.zkRoot)
    // Per window a 256 B proof and a 32 B root (+ 10 B of framing); ~250 B of job id, roots, key hash,
    // signature and envelope framing per transcript.
    expect(modeProof.length).toBeLessThan(2 * (256 + 32 + 10) + 260)
  })
})

function decodeRoot(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
}
