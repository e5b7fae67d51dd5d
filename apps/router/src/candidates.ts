import type { CompletionRequest } from './http.js'
import { expectedJobMs } from './latency.js'
import { ProviderTable } from './provider-table.js'
import type { ReputationBook } from './reputation.js'
import type { Scheduler } from './scheduler.js'
import type { Candidate } from './selection.js'
import type { StakeLedger } from './stake-ledger.js'
import type { VerifyModels } from './verify-models.js'

/** A provider the router may send a request to, with what selection weighs. */
export interface EligibleProvider extends Candidate {
  readonly publicKey: Uint8Array
  readonly onProbation: boolean
  /** Jobs this router may have on it at once: its sequences and queue (unknown: no bound). */
  readonly room: number
}

export interface EligibilityDeps {
  providers: ProviderTable
  reputation: ReputationBook
  verifyModels: VerifyModels
  scheduler: Scheduler
  /** Entries of the committed top-k per step the router asks for. */
  commitTopK: number
  /** Bonded stake on chain, when the router has a stake contract ({@link StakeLedger}). */
  stake?: Pick<StakeLedger, 'stakeOf' | 'minStake' | 'refresh'> | undefined
}

/** Stake at which the selection bonus is full: 2 × `minStake`, or 1 ether when there is no minimum. */
function fullStake(minStake: bigint): bigint {
  return minStake > 0n ? 2n * minStake : 10n ** 18n
}

/**
 * The providers of a model that may serve a request: not banned, not tried already, offering its
 * verification mode and limits, their key matching their peer id, on an engine the router can judge,
 * and describing the router's own copy of the model — each with its live load and room.
 */
export function eligibleProviders(
  deps: EligibilityDeps,
  hash: Uint8Array,
  req: Pick<CompletionRequest, 'verification' | 'maxTokens'>,
  tried: ReadonlySet<string>,
): EligibleProvider[] {
  const { providers, reputation, verifyModels, scheduler } = deps
  const out: EligibleProvider[] = []
  for (const { provider, offer } of providers.serving(hash)) {
    if (tried.has(provider.peerId)) continue
    const rep = reputation.get(provider.peerId)
    if (rep.banned) continue
    const cap = provider.capability
    if (!cap.verificationModes.includes(req.verification)) continue
    if (cap.maxOutputTokens > 0 && req.maxTokens > cap.maxOutputTokens) continue
    if (cap.maxCommitTopK > 0 && deps.commitTopK > cap.maxCommitTopK) continue
    if (!ProviderTable.keyMatches(provider.peerId, provider.publicKey)) continue
    // Engines with no measured noise model (GPUs, another release) only when the operator allows them.
    if (verifyModels.engineFor(hash) !== undefined && !verifyModels.judges(hash, offer.engine)) continue
    // The file behind a hash has one architecture, weight type and size: an offer that says otherwise
    // is not for the model the router verifies with.
    if (!verifyModels.offerMatchesCopy(hash, offer)) continue
    // Stake, read from the contract (never the record's own number): under the minimum, never selected;
    // unstaked, probation traffic only (the newcomer share), however long its clean record; staked, up
    // to +20% on the score.
    let onProbation = rep.onProbation
    let stakeBonus = 1
    if (deps.stake !== undefined) {
      const bonded = deps.stake.stakeOf(provider.peerId)
      if (bonded < deps.stake.minStake) continue
      if (bonded === 0n) onProbation = true
      const full = fullStake(deps.stake.minStake)
      stakeBonus = 1 + 0.2 * (bonded >= full ? 1 : Number(bonded) / Number(full))
    }
    // Live load: the provider's last record, or this router's own jobs on it if that says more.
    const inFlight = scheduler.inFlight(provider.peerId)
    const load =
      offer.maxConcurrentJobs > 0
        ? Math.max(offer.activeJobs + offer.queuedJobs, inFlight) / offer.maxConcurrentJobs
        : cap.loadPermille / 1000
    const room =
      offer.maxConcurrentJobs > 0 ? offer.maxConcurrentJobs + offer.maxQueuedJobs : Number.POSITIVE_INFINITY
    // Optimism for identities never tried: new providers get traffic (all of it audited on probation, and
    // nothing streamed before the audit passes), so the network can grow without trusting anyone.
    const score = (rep.totalJobs === 0 ? 1 : rep.score) * stakeBonus
    out.push({
      peerId: provider.peerId,
      publicKey: provider.publicKey,
      score,
      load,
      latencyMs: expectedJobMs(provider.latency, req.maxTokens),
      onProbation,
      room,
    })
  }
  return out
}
