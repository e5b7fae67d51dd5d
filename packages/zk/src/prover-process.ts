/**
 * The proving process: loads snarkjs once and answers prove requests with Groth16 proofs, so the
 * provider's event loop keeps serving while it proves. A child process rather than a worker thread:
 * snarkjs's curve library (ffjavascript) starts its own threads through the `web-worker` shim, which
 * cannot start them from inside a worker thread — a worker-thread prover would run single-threaded.
 *
 * Self-contained on purpose (only type imports): it runs as compiled `dist/zk/prover-process.js`, or
 * straight from `src` under Node's type stripping.
 */
import type { CircuitInput, Snarkjs, SnarkjsProof } from './snarkjs.js'

export type ProverRequest =
  | {
      readonly type: 'prove'
      readonly id: number
      readonly input: CircuitInput
      readonly wasmPath: string
      readonly zkeyPath: string
    }
  | { readonly type: 'close' }

export type ProverReply =
  | {
      readonly id: number
      readonly ok: true
      readonly proof: SnarkjsProof
      readonly publicSignals: string[]
      readonly ms: number
    }
  | { readonly id: number; readonly ok: false; readonly error: string }

const send = process.send?.bind(process)
if (send === undefined)
  throw new Error('prover-process must be started with an IPC channel (child_process.fork)')
const specifier = 'snarkjs'
const snarkjs = (await import(specifier)) as Snarkjs

async function shutdown(): Promise<void> {
  const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128
  if (curve) await curve.terminate()
  process.exit(0)
}

process.on('disconnect', () => void shutdown())
process.on('message', async (request: ProverRequest) => {
  if (request.type === 'close') return shutdown()
  const start = performance.now()
  let reply: ProverReply
  try {
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      request.input,
      request.wasmPath,
      request.zkeyPath,
    )
    reply = { id: request.id, ok: true, proof, publicSignals, ms: performance.now() - start }
  } catch (error) {
    reply = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }
  }
  send(reply)
})
