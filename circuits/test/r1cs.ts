/**
 * A plain R1CS checker for tests: parses circom's `.r1cs` and snarkjs's `.wtns` binary formats and
 * checks A·w × B·w = C·w for every constraint, in bigint arithmetic (no curve library, no threads).
 * Tests use it to check hand-altered witnesses — what a cheating prover could feed the prover —
 * rather than trusting the witness generator's own assertions.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { CACHE_DIR, compile, ROOT } from '../scripts/lib.js'

const zkRequire = createRequire(join(ROOT, 'packages/zk/package.json'))

type Term = readonly [wire: number, coef: bigint]
type Lc = readonly Term[]

export interface R1cs {
  readonly prime: bigint
  readonly nWires: number
  readonly nPubOut: number
  readonly nPubIn: number
  readonly nPrvIn: number
  readonly constraints: readonly (readonly [Lc, Lc, Lc])[]
}

function readLe(bytes: Uint8Array, offset: number, n: number): bigint {
  let v = 0n
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]!)
  return v
}

function sections(bytes: Uint8Array, magic: string): Map<number, { start: number; size: number }> {
  const text = new TextDecoder().decode(bytes.subarray(0, 4))
  if (text !== magic) throw new Error(`not a ${magic} file`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = view.getUint32(8, true)
  const out = new Map<number, { start: number; size: number }>()
  let o = 12
  for (let i = 0; i < count; i++) {
    const type = view.getUint32(o, true)
    const size = Number(view.getBigUint64(o + 4, true))
    out.set(type, { start: o + 12, size })
    o += 12 + size
  }
  return out
}

export function parseR1cs(bytes: Uint8Array): R1cs {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const s = sections(bytes, 'r1cs')
  const h = s.get(1)!.start
  const n8 = view.getUint32(h, true)
  const prime = readLe(bytes, h + 4, n8)
  let o = h + 4 + n8
  const nWires = view.getUint32(o, true)
  const nPubOut = view.getUint32(o + 4, true)
  const nPubIn = view.getUint32(o + 8, true)
  const nPrvIn = view.getUint32(o + 12, true)
  const nConstraints = view.getUint32(o + 24, true)
  o = s.get(2)!.start
  const readLc = (): Lc => {
    const n = view.getUint32(o, true)
    o += 4
    const terms: Term[] = []
    for (let i = 0; i < n; i++) {
      terms.push([view.getUint32(o, true), readLe(bytes, o + 4, n8)])
      o += 4 + n8
    }
    return terms
  }
  const constraints: [Lc, Lc, Lc][] = []
  for (let i = 0; i < nConstraints; i++) constraints.push([readLc(), readLc(), readLc()])
  return { prime, nWires, nPubOut, nPubIn, nPrvIn, constraints }
}

/** Witness values from snarkjs's `.wtns` bytes. */
export function parseWtns(bytes: Uint8Array): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const s = sections(bytes, 'wtns')
  const h = s.get(1)!.start
  const n8 = view.getUint32(h, true)
  const n = view.getUint32(h + 4 + n8, true)
  const d = s.get(2)!.start
  return Array.from({ length: n }, (_, i) => readLe(bytes, d + i * n8, n8))
}

/** The index of the first constraint the witness breaks, or -1 when it satisfies them all. */
export function firstUnsatisfied(r1cs: R1cs, witness: readonly bigint[]): number {
  const p = r1cs.prime
  if (witness.length !== r1cs.nWires || witness[0] !== 1n) return -2
  const ev = (lc: Lc) => lc.reduce((acc, [w, c]) => (acc + c * witness[w]!) % p, 0n)
  for (const [i, [a, b, c]] of r1cs.constraints.entries()) {
    if ((ev(a) * ev(b) - ev(c)) % p !== 0n) return i
  }
  return -1
}

export interface TestCircuit {
  readonly r1cs: R1cs
  readonly wasm: string
  /** The witness the generated witness calculator computes (throws when an assertion fails). */
  witness(input: Record<string, unknown>): Promise<bigint[]>
}

/** Compiles a test main (circom2 --O2) into node_modules/.cache/infraxa-zk/test and loads it. */
export async function compileTestCircuit(name: string): Promise<TestCircuit> {
  const compiled = compile(join(ROOT, 'circuits/test', `${name}.circom`), join(CACHE_DIR, 'test'))
  const r1cs = parseR1cs(readFileSync(compiled.r1cs))
  const wasm = compiled.wasm
  const snarkjs = zkRequire('snarkjs') as {
    wtns: { calculate(input: unknown, wasm: string, out: { type: 'mem'; data?: Uint8Array }): Promise<void> }
  }
  return {
    r1cs,
    wasm,
    async witness(input) {
      const mem: { type: 'mem'; data?: Uint8Array } = { type: 'mem' }
      await snarkjs.wtns.calculate(input, wasm, mem)
      return parseWtns(mem.data!)
    },
  }
}
