import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { InvalidStepError } from '@infraxa/proofs'
import { quantiseTemperature, samplingRuleHolds } from '@infraxa/proofs/sampling'
import { type CommittedStep, checkCommittedStep } from '@infraxa/proofs/transcript'
import { loadZkArtifacts, type ZkArtifacts } from './artifacts.js'
import {
  activeSteps,
  candidateKey,
  windowCount,
  zkLeaf,
  zkRootFromWindows,
  zkWindowRoot,
} from './commitment.js'
import { ZkProverError, ZkUnprovableError } from './errors.js'
import { toBytes32 } from './field.js'
import { encodeProof } from './groth16.js'
import type { ProverReply, ProverRequest } from './prover-process.js'
import type { CircuitInput } from './snarkjs.js'

/** One proved window, in the fields of the `ZkWindowProof` message. */
export interface ZkWindowProofData {
  readonly index: number
  /** The window's Poseidon root, 32 bytes big-endian. */
  readonly windowRoot: Uint8Array
  /** Groth16 proof, 256 bytes (see `encodeProof`). */
  readonly proof: Uint8Array
}

/** A proved transcript, in the fields of the `ZkTranscriptProof` message (`create(ZkTranscriptProofSchema, proof)`). */
export interface ZkTranscriptProofData {
  readonly jobId: Uint8Array
  readonly zkRoot: Uint8Array
  readonly windowSize: number
  readonly stepCount: number
  readonly windows: readonly ZkWindowProofData[]
  readonly vkeyHash: Uint8Array
}

/** The sampling of a temperature > 0 job (the request's), proved by a `poseidon-gumbel` circuit. */
export interface ZkSampling {
  readonly temperature: number
  readonly seed: bigint
}

/** Progress of a transcript proof: reported after each window is proved. */
export interface ZkProveProgress {
  readonly windowsDone: number
  readonly windows: number
  readonly elapsedMs: number
}

/** Where the time went. */
export interface ZkProveTimings {
  /** Wall time of the whole call. */
  readonly totalMs: number
  /** Time of each window's `fullProve` (witness + proof) inside the prover process. */
  readonly windowMs: readonly number[]
}

export interface ZkProver {
  readonly artifacts: ZkArtifacts
  /**
   * Proves window `index` of a transcript of `steps` (all of them: the window takes its T steps, and
   * the step count decides the padding).
   */
  proveWindow(args: {
    readonly steps: readonly CommittedStep[]
    readonly index: number
    /** Required by a `poseidon-gumbel` circuit, refused by a greedy one. */
    readonly sampling?: ZkSampling
  }): Promise<ZkWindowProofData & { readonly ms: number }>
  /** Proves every window of a transcript (windows spread over the prover's processes). */
  proveTranscript(args: {
    readonly jobId: Uint8Array
    readonly steps: readonly CommittedStep[]
    readonly sampling?: ZkSampling
    /** Called after each window is proved (a long answer takes ~2 s per 16 greedy or 8 sampled steps). */
    readonly onProgress?: (progress: ZkProveProgress) => void
  }): Promise<{
    readonly zkRoot: Uint8Array
    readonly proof: ZkTranscriptProofData
    readonly timings: ZkProveTimings
  }>
  /** Stops the prover processes. Idle ones never keep the caller's process alive. */
  close(): Promise<void>
}

function processPath(): string {
  // dist: the compiled file; src (tests, tsx): the TypeScript file, run with Node's type stripping.
  const js = fileURLToPath(new URL('./prover-process.js', import.meta.url))
  return existsSync(js) ? js : fileURLToPath(new URL('./prover-process.ts', import.meta.url))
}

interface PendingJob {
  readonly input: CircuitInput
  readonly resolve: (reply: ProverReply & { ok: true }) => void
  readonly reject: (error: Error) => void
}

/** One proving child process; it holds the event loop only while it proves. */
class ProverProcess {
  readonly child: ChildProcess
  job: PendingJob | undefined
  private nextId = 0
  private jobId = -1
  private exited = false

  constructor(
    private readonly paths: { readonly wasmPath: string; readonly zkeyPath: string },
    private readonly onIdle: (p: ProverProcess) => void,
    private readonly onExit: (p: ProverProcess) => void,
  ) {
    this.child = fork(processPath(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    })
    this.idle()
    this.child.on('message', (reply: ProverReply) => {
      const job = this.job
      if (job === undefined || reply.id !== this.jobId) return
      this.job = undefined
      this.idle()
      if (reply.ok) job.resolve(reply)
      else job.reject(new ZkProverError(reply.error))
      this.onIdle(this)
    })
    const fail = (error: Error) => {
      const job = this.job
      this.job = undefined
      job?.reject(error)
      if (!this.exited) {
        this.exited = true
        this.onExit(this)
      }
    }
    this.child.on('error', (error) => fail(new ZkProverError('prover process failed', { cause: error })))
    this.child.on('exit', (code, signal) =>
      fail(new ZkProverError(`prover process exited (${signal ?? `code ${code}`})`)),
    )
  }

  private idle(): void {
    this.child.unref()
    this.child.channel?.unref()
  }

  run(job: PendingJob): void {
    this.job = job
    this.jobId = this.nextId++
    this.child.ref()
    this.child.channel?.ref()
    const request: ProverRequest = { type: 'prove', id: this.jobId, input: job.input, ...this.paths }
    this.child.send(request)
  }

  async close(): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    const request: ProverRequest = { type: 'close' }
    this.child.send(request)
    const timer = setTimeout(() => this.child.kill(), 5_000)
    await exited
    clearTimeout(timer)
  }
}

/**
 * Checks a transcript can be proved by the circuit: well-formed steps at their index, exactly k
 * candidates, the circuit's rule — greedy, or poseidon-gumbel with the candidates in canonical order.
 */
function checkProvable(
  steps: readonly CommittedStep[],
  artifacts: ZkArtifacts,
  sampling: ZkSampling | undefined,
): void {
  const { topK, rule } = artifacts
  if (rule === 'greedy' && sampling !== undefined && sampling.temperature !== 0) {
    throw new ZkUnprovableError(
      `the ${artifacts.circuit} circuit proves greedy answers, not temperature ${sampling.temperature}`,
    )
  }
  if (rule === 'poseidon-gumbel' && (sampling === undefined || !(sampling.temperature > 0))) {
    throw new ZkUnprovableError(
      `the ${artifacts.circuit} circuit proves sampled answers: pass the job's temperature > 0 and seed`,
    )
  }
  const params =
    rule === 'greedy'
      ? { temperature: 0, seed: 0n }
      : { temperature: sampling!.temperature, seed: sampling!.seed, rule: 'poseidon-gumbel' as const }
  steps.forEach((s, t) => {
    if (s.step !== t) throw new InvalidStepError(`step ${s.step} at position ${t}`)
    if (s.topIds.length !== topK) {
      throw new ZkUnprovableError(
        `step ${t} commits ${s.topIds.length} candidates; the circuit takes k = ${topK}`,
      )
    }
    checkCommittedStep(s, topK)
    if (rule === 'poseidon-gumbel') {
      const keys = s.topIds.map((id, j) => candidateKey(id, s.topLogprobs[j]!))
      if (keys.some((key, j) => j > 0 && key <= keys[j - 1]!)) {
        throw new ZkUnprovableError(`step ${t}: candidates are not in canonical order (log-prob down, id up)`)
      }
    }
    if (!samplingRuleHolds(s, params)) {
      throw new ZkUnprovableError(
        `step ${t}: token ${s.token} is not the ${rule} choice of its committed top-k`,
      )
    }
  })
}

/**
 * The circuit input of window `index`. Padding: dummy steps whose rule picks token 0 — keys 0 … k−1
 * (greedy), or token 0 at log-prob 0 and ids 1 … k−1 at log-prob −2^14 (sampled: no noise overturns it).
 */
export function windowInput(
  steps: readonly CommittedStep[],
  index: number,
  windowSize: number,
  topK: number,
  sampling?: ZkSampling,
): CircuitInput {
  const active = activeSteps(index, steps.length, windowSize)
  if (active === 0) throw new RangeError(`window ${index} of ${steps.length} steps is empty`)
  const token: string[] = []
  const key: string[][] = []
  for (let i = 0; i < windowSize; i++) {
    const s = i < active ? steps[index * windowSize + i]! : undefined
    token.push(String(s?.token ?? 0))
    key.push(
      s === undefined
        ? Array.from({ length: topK }, (_, j) =>
            String(sampling === undefined || j === 0 ? BigInt(j) : candidateKey(j, -(2 ** 30))),
          )
        : s.topIds.map((id, j) => candidateKey(id, s.topLogprobs[j]!).toString()),
    )
  }
  const base = { index: String(index), active: String(active) }
  if (sampling === undefined) return { ...base, token, key }
  return {
    ...base,
    seed: BigInt.asUintN(64, sampling.seed).toString(),
    tau: String(quantiseTemperature(sampling.temperature)),
    token,
    key,
  }
}

/**
 * A prover over a circuit build: `processes` child processes (default 1: snarkjs already spreads one
 * proof over every core), each loading snarkjs once. Proving never blocks the caller's event loop.
 *
 * @example
 * const prover = createZkProver()                  // the committed release circuit (T = 16, k = 8)
 * const { zkRoot, proof } = await prover.proveTranscript({ jobId, steps: transcript.steps })
 * await prover.close()
 */
export function createZkProver(
  options: { readonly artifacts?: ZkArtifacts; readonly processes?: number } = {},
): ZkProver {
  const artifacts = options.artifacts ?? loadZkArtifacts()
  const size = Math.max(1, options.processes ?? 1)
  const { windowSize, topK } = artifacts
  const paths = { wasmPath: artifacts.wasmPath, zkeyPath: artifacts.zkeyPath }
  const workers = new Set<ProverProcess>()
  const idle: ProverProcess[] = []
  const queue: PendingJob[] = []
  let closed = false

  const dispatch = () => {
    while (queue.length > 0) {
      let w = idle.pop()
      if (w === undefined && workers.size < size) {
        w = new ProverProcess(paths, onIdle, onExit)
        workers.add(w)
      }
      if (w === undefined) return
      w.run(queue.shift()!)
    }
  }
  function onIdle(w: ProverProcess) {
    idle.push(w)
    dispatch()
  }
  function onExit(w: ProverProcess) {
    workers.delete(w)
    const i = idle.indexOf(w)
    if (i >= 0) idle.splice(i, 1)
    if (!closed) dispatch()
  }
  const prove = (input: CircuitInput) =>
    new Promise<ProverReply & { ok: true }>((resolve, reject) => {
      if (closed) return reject(new ZkProverError('the prover is closed'))
      queue.push({ input, resolve, reject })
      dispatch()
    })

  async function proveOne(
    steps: readonly CommittedStep[],
    index: number,
    leaves: readonly bigint[],
    sampling: ZkSampling | undefined,
  ) {
    const expected = zkWindowRoot(leaves.slice(index * windowSize, (index + 1) * windowSize), windowSize)
    const sampled = artifacts.rule === 'poseidon-gumbel' ? sampling : undefined
    const reply = await prove(windowInput(steps, index, windowSize, topK, sampled))
    if (reply.publicSignals[0] !== expected.toString()) {
      throw new ZkProverError(
        `window ${index}: the circuit's root differs from the library's (artifact mismatch?)`,
      )
    }
    return { index, windowRoot: toBytes32(expected), proof: encodeProof(reply.proof), ms: reply.ms }
  }

  return {
    artifacts,
    async proveWindow({ steps, index, sampling }) {
      checkProvable(steps, artifacts, sampling)
      if (!Number.isInteger(index) || index < 0 || index >= windowCount(steps.length, windowSize)) {
        throw new RangeError(`window ${index} of ${steps.length} steps`)
      }
      return proveOne(steps, index, steps.map(zkLeaf), sampling)
    },
    async proveTranscript({ jobId, steps, sampling, onProgress }) {
      const start = performance.now()
      checkProvable(steps, artifacts, sampling)
      const leaves = steps.map(zkLeaf)
      const count = windowCount(steps.length, windowSize)
      let done = 0
      const windows = await Promise.all(
        Array.from({ length: count }, async (_, w) => {
          const proved = await proveOne(steps, w, leaves, sampling)
          onProgress?.({ windowsDone: ++done, windows: count, elapsedMs: performance.now() - start })
          return proved
        }),
      )
      const windowRoots = windows.map((w) =>
        zkWindowRoot(leaves.slice(w.index * windowSize, (w.index + 1) * windowSize), windowSize),
      )
      const zkRoot = toBytes32(
        zkRootFromWindows({ jobId, stepCount: steps.length, windowSize, topK, windowRoots }),
      )
      return {
        zkRoot,
        proof: {
          jobId: Uint8Array.from(jobId),
          zkRoot,
          windowSize,
          stepCount: steps.length,
          windows: windows.map(({ index, windowRoot, proof }) => ({ index, windowRoot, proof })),
          vkeyHash: Uint8Array.from(artifacts.vkeyHash),
        },
        timings: { totalMs: performance.now() - start, windowMs: windows.map((w) => w.ms) },
      }
    },
    async close() {
      closed = true
      for (const job of queue.splice(0)) job.reject(new ZkProverError('the prover was closed'))
      await Promise.all([...workers].map((w) => w.close()))
      workers.clear()
      idle.length = 0
    },
  }
}

/**
 * Proves a whole transcript in a prover process and stops it: the one-shot form of
 * {@link createZkProver}. A provider that proves often keeps one prover open instead.
 *
 * @example
 * const zkRoot = zkRootOf({ jobId, steps, windowSize: 16, topK: 8 }) // signed in the response first
 * const { proof } = await proveTranscript({ jobId, steps })
 * const modeProof = encodeZkModeProof(proof, providerSigner)
 */
export async function proveTranscript(args: {
  readonly jobId: Uint8Array
  readonly steps: readonly CommittedStep[]
  readonly sampling?: ZkSampling
  readonly artifacts?: ZkArtifacts
}): Promise<{
  readonly zkRoot: Uint8Array
  readonly proof: ZkTranscriptProofData
  readonly timings: ZkProveTimings
}> {
  const prover = createZkProver(args.artifacts === undefined ? {} : { artifacts: args.artifacts })
  try {
    return await prover.proveTranscript(args)
  } finally {
    await prover.close()
  }
}

/** Proves one window in a prover process and stops it (see {@link createZkProver} to keep one open). */
export async function proveWindow(args: {
  readonly steps: readonly CommittedStep[]
  readonly index: number
  readonly sampling?: ZkSampling
  readonly artifacts?: ZkArtifacts
}): Promise<ZkWindowProofData & { readonly ms: number }> {
  const prover = createZkProver(args.artifacts === undefined ? {} : { artifacts: args.artifacts })
  try {
    return await prover.proveWindow(args)
  } finally {
    await prover.close()
  }
}
