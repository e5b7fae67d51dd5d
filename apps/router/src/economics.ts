import type { DatabaseSync } from 'node:sqlite'
import { connectChain, loadOrCreateChainKey, openChannelsContract } from '@infraxa/chain'
import { type InfraxaNode, peerIdFromSignerKey } from '@infraxa/p2p'
import type { FraudRuling } from '@infraxa/proofs/modes'
import { InvalidArgumentError, type SignedEnvelope } from '@infraxa/protocol'
import { buildFraudProof } from './fraud-evidence.js'
import { Payer, type RouterPaymentOptions } from './payer.js'
import type { ProviderTable } from './provider-table.js'
import { type RouterChainOptions, StakeLedger } from './stake-ledger.js'
import type { VerifyModels } from './verify-models.js'
import type { AuditFailedHook } from './watcher.js'

/** What the rest of the router calls when money is at stake; all no-ops without a chain. */
export interface Economics {
  readonly ledger: StakeLedger | undefined
  readonly payer: Payer | undefined
  /** A failed job whose steps may prove the fraud alone: evidence built, the provider accused. */
  readonly onAuditFailed: AuditFailedHook
  /** A fraud proof this router's court upheld: the provider accused. */
  readonly onCourtFraud: (proof: SignedEnvelope, ruling: FraudRuling) => void
  /** A verified answer: the provider paid for its tokens. */
  readonly onVerified: (providerId: string, jobHex: string, tokens: number) => void
  stop(): Promise<void>
}

/**
 * The router's economics: the stake ledger (stake read for selection, fraud accused, accusations
 * adjudicated) and the payer (vouchers after verified answers), wired to the router's events.
 *
 * @throws {InvalidArgumentError} payments without a chain
 * @throws {ChainUnreachableError} the endpoint does not answer
 * @throws {NoContractError} no stake or channels contract at the addresses given
 */
export async function openEconomics(
  options: { chain?: RouterChainOptions | undefined; payments?: RouterPaymentOptions | undefined },
  deps: {
    dataDir: string
    db: DatabaseSync
    node: InfraxaNode
    verifyModels: VerifyModels
    /** Read when an event comes (the table is made after this). */
    providers: () => ProviderTable
  },
): Promise<Economics> {
  let ledger: StakeLedger | undefined
  let payer: Payer | undefined
  if (options.payments !== undefined && options.chain === undefined) {
    throw new InvalidArgumentError('createRouter: payments need a chain (options.chain)')
  }
  if (options.chain !== undefined) {
    // One chain account for accusations, votes and payments.
    const connection = await connectChain(
      options.chain.endpoint,
      options.chain.privateKey ?? loadOrCreateChainKey(deps.dataDir),
    )
    ledger = await StakeLedger.open(options.chain, connection, deps)
    if (options.payments !== undefined) {
      const channels = await openChannelsContract(connection, options.payments.contract)
      payer = new Payer(deps.db, channels, deps.node, options.payments)
    }
  }
  const stakeOwnerOf = (providerId: string) => deps.providers().get(providerId)?.capability.stakeOwner

  /** A provider's fraud, proven here, to the stake contract (nothing without a stake to slash). */
  const accuse = async (
    stake: StakeLedger,
    proof: SignedEnvelope,
    ruling: FraudRuling,
    providerId: string,
  ) => {
    const known = deps.providers().get(providerId)
    if (known === undefined) return
    await stake.accuse(proof, ruling, { ...known, stakeOwner: known.capability.stakeOwner })
    stake.invalidate(providerId)
  }
  const failedToChain = (error: unknown) =>
    console.error('router: could not take the fraud to the stake contract:', error)

  return {
    ledger,
    payer,
    async onAuditFailed(exchange, steps, providerId) {
      const stake = ledger
      if (stake === undefined || stakeOwnerOf(providerId)?.length !== 20) return
      await stake.track(
        (async () => {
          const found = await buildFraudProof(
            deps.node,
            providerId,
            exchange,
            steps,
            deps.verifyModels,
            stake.bond,
          )
          if (found !== undefined) await accuse(stake, found.proof, found.ruling, providerId)
        })(),
      )
    },
    onCourtFraud(proof, ruling) {
      if (ledger === undefined) return
      void ledger
        .track(accuse(ledger, proof, ruling, peerIdFromSignerKey(ruling.provider).toString()))
        .catch(failedToChain)
    },
    onVerified(providerId, jobHex, tokens) {
      const known = deps.providers().get(providerId)
      if (payer === undefined || known === undefined) return
      void payer.pay(known, jobHex, tokens).catch((error: unknown) => {
        console.error(`router: could not pay ${providerId} for job ${jobHex}:`, error)
      })
    },
    async stop() {
      await payer?.idle()
      await ledger?.stop()
    },
  }
}
