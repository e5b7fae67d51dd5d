import type { DatabaseSync } from 'node:sqlite'
import {
  type ChainConnection,
  type ChainEndpoint,
  ContractRevertedError,
  openStakeContract,
  type StakeContract,
} from '@infraxa/chain'
import type { FraudRuling } from '@infraxa/proofs/modes'
import { decodeEnvelope, encodeEnvelope, InfraxaError, type SignedEnvelope } from '@infraxa/protocol'
import { type Address, bytesToHex, type Hex } from 'viem'
import { ruleOnFraudProof } from './court.js'
import type { KnownProvider } from './provider-table.js'
import type { VerifyModels } from './verify-models.js'

/** A router's stake contract (see {@link RouterOptions.chain}). */
export interface RouterChainOptions {
  /** The chain: an embedded one (`{ embedded }`) or a JSON-RPC URL (`{ rpcUrl }`). */
  endpoint: ChainEndpoint
  /** The stake contract's address. */
  contract: Address
  /** The router's chain account key. @default `<dataDir>/chain.key`, created on first use */
  privateKey?: Hex
  /** Bond posted with each accusation, in wei. @default the contract's `minBond` */
  bond?: bigint
  /**
   * Bonded stake a provider needs to be selected at all, in wei; below it a provider is never sent a
   * job. With 0, unstaked providers are selected but get probation traffic only (the newcomer share,
   * every job audited). @default 0n
   */
  minStake?: bigint
  /** How often new accusations are read from the contract, in ms. @default 1_000 */
  pollIntervalMs?: number
}

/** How long a provider's slot, once read, is trusted before it is read again. */
const STAKE_TTL_MS = 15_000

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** What the ledger did with one accusation, for tests and the dashboard. */
export interface LedgerEvent {
  kind: 'accused' | 'voted' | 'claimed' | 'skipped'
  id?: bigint
  detail: string
}

/**
 * The router's side of the stake contract: reads each provider's bonded stake (the slot of its peer key
 * and the owner its signed record names — no other), takes fraud this router proved to the contract
 * (an accusation with a bond and the FRAUD_PROOF as evidence), and, as a registered adjudicator,
 * re-executes every accusation anyone opens and votes — guilty once per job (a second accusation of
 * the same job is voted innocent: one fraud, one slash). Where it is in the polling is kept in the
 * router's database, so a restarted router votes on what it missed.
 */
export class StakeLedger {
  readonly contract: StakeContract
  readonly minStake: bigint
  readonly isAdjudicator: boolean
  readonly #db: DatabaseSync
  readonly #verifyModels: VerifyModels
  /** Bond posted with each accusation. */
  readonly bond: bigint
  readonly #stakes = new Map<string, { amount: bigint; readAt: number }>()
  /** Providers whose slot is being read now. */
  readonly #reading = new Set<string>()
  readonly #timer: NodeJS.Timeout
  readonly #onEvent: (event: LedgerEvent) => void
  #polling: Promise<void> | undefined
  /** Jobs being accused now (one accusation per job, even when two paths prove the same fraud). */
  readonly #accusing = new Set<string>()
  readonly #work = new Set<Promise<unknown>>()
  #stopped = false

  private constructor(init: {
    contract: StakeContract
    db: DatabaseSync
    verifyModels: VerifyModels
    bond: bigint
    minStake: bigint
    isAdjudicator: boolean
    pollIntervalMs: number
    onEvent: (event: LedgerEvent) => void
  }) {
    this.contract = init.contract
    this.#db = init.db
    this.#verifyModels = init.verifyModels
    this.bond = init.bond
    this.minStake = init.minStake
    this.isAdjudicator = init.isAdjudicator
    this.#onEvent = init.onEvent
    init.db.exec(`
      CREATE TABLE IF NOT EXISTS chain_cursor (contract TEXT PRIMARY KEY, next_block TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS chain_guilty_jobs (job_id TEXT PRIMARY KEY, accusation TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS chain_accusations (
        job_id TEXT PRIMARY KEY, accusation TEXT NOT NULL, provider TEXT NOT NULL, at_ms INTEGER NOT NULL
      );
    `)
    this.#timer = setInterval(() => void this.poll(), init.pollIntervalMs)
    this.#timer.unref()
  }

  /**
   * Opens the stake contract through the router's chain account.
   *
   * @throws {ChainUnreachableError} the endpoint does not answer
   * @throws {NoContractError} no stake contract at the address
   */
  static async open(
    options: RouterChainOptions,
    connection: ChainConnection,
    deps: {
      db: DatabaseSync
      verifyModels: VerifyModels
      onEvent?: (event: LedgerEvent) => void
    },
  ): Promise<StakeLedger> {
    const contract = await openStakeContract(connection, options.contract)
    const parameters = await contract.parameters()
    return new StakeLedger({
      contract,
      db: deps.db,
      verifyModels: deps.verifyModels,
      bond: options.bond ?? parameters.minBond,
      minStake: options.minStake ?? 0n,
      isAdjudicator: await contract.isAdjudicator(connection.address),
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      onEvent: deps.onEvent ?? (() => {}),
    })
  }

  /** The router's chain account. */
  get address(): Address {
    return this.contract.account
  }

  /**
   * Runs `work` (building evidence, accusing) as part of the ledger's business: {@link idle} waits for
   * it, and so does {@link stop}.
   */
  track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work)
    void work.then(
      () => this.#work.delete(work),
      () => this.#work.delete(work),
    )
    return work
  }

  /** Resolves when no evidence is being built or accused and a poll round (votes, claims) has run. */
  async idle(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work])
    await this.poll()
  }

  /** The provider's bonded stake as last read (0 when unstaked, unbonding or not read yet). */
  stakeOf(peerId: string): bigint {
    return this.#stakes.get(peerId)?.amount ?? 0n
  }

  /**
   * Reads the slots of providers never read (awaited: selection needs them) and, in the background, of
   * those read more than 15 s ago (the last value stands meanwhile). A chain that does not answer leaves
   * a provider at 0 until the next read.
   */
  async refresh(providers: readonly KnownProvider[]): Promise<void> {
    const now = Date.now()
    const unread: KnownProvider[] = []
    for (const p of providers) {
      const known = this.#stakes.get(p.peerId)
      if (known === undefined) unread.push(p)
      else if (known.readAt + STAKE_TTL_MS < now && !this.#reading.has(p.peerId)) void this.#read(p)
    }
    await Promise.all(unread.map((p) => this.#read(p)))
  }

  async #read(p: KnownProvider): Promise<void> {
    this.#reading.add(p.peerId)
    const owner = p.capability.stakeOwner
    let amount = 0n
    try {
      if (owner.length === 20 && p.publicKey.length === 32) {
        const slot = await this.contract.stakeOf(p.publicKey, bytesToHex(owner))
        amount = slot.bonded ? slot.amount : 0n
      }
    } catch {
      // The chain did not answer: counted as unstaked until the next read.
    } finally {
      this.#reading.delete(p.peerId)
    }
    this.#stakes.set(p.peerId, { amount, readAt: Date.now() })
  }

  /** Forgets a provider's cached stake (after a slash: read it again). */
  invalidate(peerId: string): void {
    this.#stakes.delete(peerId)
  }

  /**
   * Takes a fraud proof this router found to prove fraud (`ruling`, from its own re-execution) to the contract: an accusation of the
   * provider's slot with the bond, then its own vote when it is an adjudicator. Once per job; nothing
   * when the provider has no bonded slot. Returns the accusation id.
   */
  async accuse(
    proof: SignedEnvelope,
    ruling: FraudRuling,
    provider: { peerId: string; publicKey: Uint8Array; stakeOwner: Uint8Array },
  ): Promise<bigint | undefined> {
    if (this.#stopped || provider.stakeOwner.length !== 20 || !ruling.fraud) return undefined
    const jobId = hex(ruling.jobId)
    if (this.#accusing.has(jobId)) return undefined
    if (this.#db.prepare('SELECT 1 FROM chain_accusations WHERE job_id = ?').get(jobId) !== undefined)
      return undefined
    this.#accusing.add(jobId)
    try {
      return await this.#accuse(proof, ruling, provider, jobId)
    } finally {
      this.#accusing.delete(jobId)
    }
  }

  async #accuse(
    proof: SignedEnvelope,
    ruling: FraudRuling,
    provider: { peerId: string; publicKey: Uint8Array; stakeOwner: Uint8Array },
    jobId: string,
  ): Promise<bigint | undefined> {
    const owner = bytesToHex(provider.stakeOwner)
    const slot = await this.contract.stakeOf(provider.publicKey, owner)
    if (slot.amount === 0n) {
      this.#onEvent({ kind: 'skipped', detail: `${provider.peerId} has no stake to slash (job ${jobId})` })
      return undefined
    }
    let id: bigint
    try {
      id = await this.contract.accuse(provider.publicKey, owner, encodeEnvelope(proof), this.bond)
    } catch (error) {
      if (error instanceof ContractRevertedError && error.reason === 'EvidenceAlreadyUsed') return undefined
      throw error
    }
    this.#db
      .prepare(
        'INSERT OR IGNORE INTO chain_accusations (job_id, accusation, provider, at_ms) VALUES (?, ?, ?, ?)',
      )
      .run(jobId, id.toString(), provider.peerId, Date.now())
    this.#onEvent({ kind: 'accused', id, detail: `${provider.peerId}, job ${jobId}: ${ruling.reason}` })
    // Vote at once rather than at the next poll.
    await this.poll()
    return id
  }

  /**
   * One round: reads the accusations opened since the last round and, as an adjudicator, re-executes
   * each one's evidence and votes; then claims what the contract owes this router. Errors wait for the
   * next round.
   */
  async poll(): Promise<void> {
    if (this.#stopped) return
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined
    })
    return this.#polling
  }

  async #poll(): Promise<void> {
    try {
      const key = this.contract.address.toLowerCase()
      const row = this.#db.prepare('SELECT next_block FROM chain_cursor WHERE contract = ?').get(key) as
        | { next_block: string }
        | undefined
      // A router's first poll looks back 100,000 blocks (longer than a day's voting on any chain with
      // blocks ≥ 1 s apart), not to genesis; later polls go on from where the last one stopped.
      const from = row !== undefined ? BigInt(row.next_block) : await this.#firstBlock()
      const { accusations, toBlock } = await this.contract.accusationsSince(from)
      for (const accusation of accusations) {
        if (this.#stopped) return
        if (this.isAdjudicator) await this.#adjudicate(accusation)
      }
      this.#db
        .prepare(
          'INSERT INTO chain_cursor (contract, next_block) VALUES (?, ?) ON CONFLICT (contract) DO UPDATE SET next_block = excluded.next_block',
        )
        .run(key, (toBlock + 1n).toString())
      if ((await this.contract.owed(this.address)) > 0n) {
        await this.contract.claim()
        this.#onEvent({ kind: 'claimed', detail: 'bonds and rewards claimed' })
      }
    } catch (error) {
      if (!(error instanceof InfraxaError) && !(error instanceof Error)) throw error
      // The chain went away or refused: the next round tries again from the same block.
    }
  }

  async #firstBlock(): Promise<bigint> {
    const latest = await this.contract.blockNumber()
    return latest > 100_000n ? latest - 100_000n : 0n
  }

  async #adjudicate(accusation: { id: bigint; peerKey: Uint8Array; evidence: Uint8Array }): Promise<void> {
    const { id } = accusation
    const state = await this.contract.accusation(id)
    if (state.status !== 'open' || (await this.contract.hasVoted(id, this.address))) return
    let guilty = false
    let reason: string
    try {
      const ruling = await ruleOnFraudProof(decodeEnvelope(accusation.evidence), this.#verifyModels)
      const jobId = hex(ruling.jobId)
      const sameProvider = hex(ruling.provider) === hex(accusation.peerKey)
      const earlier = this.#db
        .prepare('SELECT accusation FROM chain_guilty_jobs WHERE job_id = ?')
        .get(jobId) as { accusation: string } | undefined
      if (!sameProvider) reason = 'the evidence accuses another peer key than the slot'
      else if (!ruling.fraud) reason = ruling.reason
      else if (earlier !== undefined && earlier.accusation !== id.toString())
        reason = `job ${jobId} was already judged guilty in accusation ${earlier.accusation}`
      else {
        guilty = true
        reason = ruling.reason
        this.#db
          .prepare('INSERT OR IGNORE INTO chain_guilty_jobs (job_id, accusation) VALUES (?, ?)')
          .run(jobId, id.toString())
      }
    } catch (error) {
      if (!(error instanceof InfraxaError)) throw error
      if (error.code === 'ERR_CANNOT_VERIFY') {
        // Not this router's model: others judge it.
        this.#onEvent({ kind: 'skipped', id, detail: error.shortMessage })
        return
      }
      reason = `evidence does not decode: ${error.shortMessage}`
    }
    await this.contract.vote(id, guilty)
    this.#onEvent({ kind: 'voted', id, detail: `${guilty ? 'guilty' : 'innocent'}: ${reason}` })
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#work])
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#polling
  }
}
