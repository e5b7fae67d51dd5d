/**
 * A provider in a child process, for tests that need one on another llama.cpp CPU build (started with the
 * engine calibration's redirect hook, see cross-build.slow.test.ts) — honest, or a TEST DOUBLE (attack)
 * that serves its model under another model's hash and record (`claim`) or forges near-ties (`nearTieGap`). Options come as JSON in
 * $INFRAXA_TEST_PROVIDER; prints `ready <json>` with its peer id, addresses and engine builds; SIGTERM stops it.
 */
import { createProvider } from '@infraxa/provider'
import { nearTieForgery } from './forgeries.js'

interface ChildOptions {
  models: Array<{ path: string; name: string }>
  dataDir: string
  threads: number
  parallel: number
  claim?: {
    modelHashHex: string
    summary: { architecture: string; quantization: string; parameterCount: number; vocabSize: number }
  }
  /** TEST DOUBLE (attack): near-tie forgery with this gap (nats) on every step it can place one. */
  nearTieGap?: number
  /** TEST DOUBLE (fault): answer audits only after this delay. */
  auditDelayMs?: number
}

const options = JSON.parse(process.env.INFRAXA_TEST_PROVIDER ?? '') as ChildOptions
const provider = await createProvider({
  models: options.models,
  dataDir: options.dataDir,
  threads: options.threads,
  limits: { maxConcurrentJobs: options.parallel },
  ...((options.claim || options.nearTieGap || options.auditDelayMs) && {
    dishonest: {
      ...(options.claim && {
        claimModelHash: new Uint8Array(Buffer.from(options.claim.modelHashHex, 'hex')),
        claimSummary: options.claim.summary,
      }),
      ...(options.nearTieGap && { forgeStep: nearTieForgery({ gap: options.nearTieGap }) }),
      ...(options.auditDelayMs && { auditDelayMs: options.auditDelayMs }),
    },
  }),
})
process.once('SIGTERM', () => {
  void provider.stop().finally(() => process.exit(0))
})
console.log(
  `ready ${JSON.stringify({ peerId: provider.peerId, multiaddrs: provider.node.multiaddrs.map(String) })}`,
)
