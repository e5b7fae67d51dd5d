/**
 * TEST DOUBLE (attack): one peer flooding a provider with inference requests, in its own process (so the
 * flood's work does not run on the measuring client's event loop). Options as JSON in
 * $INFRAXA_FLOOD: `{ provider, total, inFlight, modelHashHex, maxTokens }` (`provider`: a multiaddr with
 * /p2p/). Prints `ready` once connected, starts on a line on stdin, and prints `done <json>` with the
 * count of each outcome: `answered`, an error code, `hang` (past 60 s) or `crash` (an untyped error).
 */
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { createNode } from '@infraxa/p2p'
import {
  create,
  encodeEnvelope,
  InferenceRequestSchema,
  InfraxaError,
  PROTOCOL_IDS,
  RemoteError,
  signEnvelope,
} from '@infraxa/protocol'

const o = JSON.parse(process.env.INFRAXA_FLOOD ?? '') as {
  provider: string
  total: number
  inFlight: number
  modelHashHex: string
  maxTokens: number
}
const node = await createNode({ dht: false })
const connection = await node.connect(o.provider)
const peer = connection.remotePeer.toString()
console.log('ready')
await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve))

const request = () =>
  encodeEnvelope(
    signEnvelope(
      'INFERENCE_REQUEST',
      create(InferenceRequestSchema, {
        jobId: new Uint8Array(randomBytes(16)),
        modelHash: new Uint8Array(Buffer.from(o.modelHashHex, 'hex')),
        messages: [{ role: 'user', content: 'Once upon a time' }],
        sampling: { temperature: 0.8, seed: 1n, maxTokens: o.maxTokens, stop: [] },
        commitTopK: 8,
        verificationMode: 'merkle',
        routerNonce: new Uint8Array(randomBytes(32)),
        deadlineMs: BigInt(Date.now() + 600_000),
      }),
      node.signer,
    ),
  )

const outcomes: Record<string, number> = {}
let next = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: o.inFlight }, async () => {
    while (next < o.total) {
      next++
      const signal = AbortSignal.timeout(60_000)
      let outcome: string
      try {
        let frames = 0
        for await (const _ of node.requestStream(peer, PROTOCOL_IDS.inference, request(), { signal }))
          frames++
        outcome = frames > 0 ? 'answered' : 'closed'
      } catch (error) {
        outcome = signal.aborted
          ? 'hang'
          : error instanceof RemoteError
            ? error.code
            : error instanceof InfraxaError
              ? `local ${error.code}`
              : 'crash'
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    }
  }),
)
console.log(`done ${JSON.stringify({ outcomes, seconds: (performance.now() - started) / 1000 })}`)
await node.stop()
process.exit(0)
