import { InvalidArgumentError } from '@infraxa/protocol'
import { type Address, bytesToHex, getContract, type Hash, type Hex, hexToBytes, parseEventLogs } from 'viem'
import type { ChainConnection } from './connect.js'
import { ContractRevertedError, NoContractError } from './errors.js'
import { infraxaStakeAbi, infraxaStakeBytecode } from './generated/infraxa-stake.js'
import { chainError, deploy, transact } from './transact.js'

/** The rules a stake contract is deployed with (fixed for its life). */
export interface StakeParameters {
  /** Chain accounts whose votes decide accusations (the routers that re-execute steps). */
  adjudicators: readonly Address[]
  /** Votes one way that decide an accusation. */
  quorum: number
  /** Smallest bond an accusation must carry, in wei. */
  minBond: bigint
  /** Wait between `startUnbonding` and `withdraw`; must exceed `votingSeconds`. */
  unbondingSeconds: number
  /** Time adjudicators have to decide an accusation; after it, it expires and the bond goes back. */
  votingSeconds: number
  /** Share of the slot taken on proven fraud, in basis points (10,000 = all). */
  slashBps: number
  /** Share of the slashed amount paid to the challenger, in basis points; the rest is burnt. */
  rewardBps: number
}

/** Defaults of {@link deployStakeContract} (see docs/economics.md for why these numbers). */
export const DEFAULT_STAKE_PARAMETERS: Omit<StakeParameters, 'adjudicators'> = {
  quorum: 1,
  minBond: 10n ** 16n,
  unbondingSeconds: 7 * 24 * 3600,
  votingSeconds: 24 * 3600,
  slashBps: 10_000,
  rewardBps: 5_000,
}

/** One slot: the stake of (peer key, owner). */
export interface StakeSlot {
  amount: bigint
  /** When the stake may be withdrawn (seconds since epoch); `undefined` while bonded. */
  unlockAt: number | undefined
  /** Accusations against the slot not yet decided. */
  openAccusations: number
  /** Bonded and not unbonding: what routers count. */
  bonded: boolean
}

export type AccusationStatus = 'open' | 'upheld' | 'rejected' | 'expired'

export interface Accusation {
  id: bigint
  peerKey: Uint8Array
  owner: Address
  challenger: Address
  bond: bigint
  openedAt: number
  status: AccusationStatus
  guiltyVotes: number
  innocentVotes: number
}

const STATUS: Record<number, AccusationStatus> = { 1: 'open', 2: 'upheld', 3: 'rejected', 4: 'expired' }

function peerKeyHex(peerKey: Uint8Array): Hex {
  if (peerKey.length !== 32) {
    throw new InvalidArgumentError(`a peer key is a 32-byte Ed25519 public key, got ${peerKey.length} bytes`)
  }
  return bytesToHex(peerKey)
}

/**
 * Deploys a stake contract with `parameters` from the connection's account.
 *
 * @throws {ContractRevertedError} `InvalidParameters` (quorum 0 or above the adjudicators, shares over
 *   10,000, unbonding not longer than voting, an adjudicator twice)
 */
export async function deployStakeContract(
  connection: ChainConnection,
  parameters: Partial<StakeParameters> & Pick<StakeParameters, 'adjudicators'>,
): Promise<StakeContract> {
  const p = { ...DEFAULT_STAKE_PARAMETERS, ...parameters }
  const args = [
    [...p.adjudicators],
    p.quorum,
    p.minBond,
    BigInt(p.unbondingSeconds),
    BigInt(p.votingSeconds),
    p.slashBps,
    p.rewardBps,
  ] as const
  const address = await deploy(connection, { abi: infraxaStakeAbi, bytecode: infraxaStakeBytecode, args })
  if (address === undefined) throw new NoContractError('stake', '(deployment returned no address)')
  return new StakeContract(connection, address)
}

/**
 * Opens the stake contract at `address`.
 *
 * @throws {NoContractError} no contract there, or one that does not answer as a stake contract
 */
export async function openStakeContract(
  connection: ChainConnection,
  address: Address,
): Promise<StakeContract> {
  const contract = new StakeContract(connection, address)
  try {
    await contract.parameters()
  } catch {
    throw new NoContractError('stake', address)
  }
  return contract
}

/**
 * The Infraxa stake contract, through one account: providers stake and unbond, challengers accuse and
 * claim, adjudicators vote. Every write waits for its receipt; a refusal is a
 * {@link ContractRevertedError} naming the contract's error (`StillBonded`, `BondTooSmall`, …).
 */
export class StakeContract {
  readonly address: Address
  readonly #connection: ChainConnection
  readonly #contract

  constructor(connection: ChainConnection, address: Address) {
    this.address = address
    this.#connection = connection
    this.#contract = getContract({
      address,
      abi: infraxaStakeAbi,
      client: { public: connection.publicClient, wallet: connection.walletClient },
    })
  }

  /** The account this handle sends from. */
  get account(): Address {
    return this.#connection.address
  }

  /** The rules the contract was deployed with. */
  async parameters(): Promise<StakeParameters & { adjudicatorCount: number }> {
    const c = this.#contract.read
    const [quorum, minBond, unbondingSeconds, votingSeconds, slashBps, rewardBps, adjudicatorCount] =
      await Promise.all([
        c.quorum(),
        c.minBond(),
        c.unbondingSeconds(),
        c.votingSeconds(),
        c.slashBps(),
        c.rewardBps(),
        c.adjudicatorCount(),
      ])
    return {
      adjudicators: [],
      quorum,
      minBond,
      unbondingSeconds: Number(unbondingSeconds),
      votingSeconds: Number(votingSeconds),
      slashBps,
      rewardBps,
      adjudicatorCount,
    }
  }

  async isAdjudicator(address: Address): Promise<boolean> {
    return this.#contract.read.isAdjudicator([address])
  }

  /** Adds `amount` wei to this account's slot for `peerKey`. */
  async stake(peerKey: Uint8Array, amount: bigint): Promise<Hash> {
    return this.#send('stake', [peerKeyHex(peerKey)], amount)
  }

  /** Starts unbonding this account's slot for `peerKey`; routers stop counting it at once. */
  async startUnbonding(peerKey: Uint8Array): Promise<Hash> {
    return this.#send('startUnbonding', [peerKeyHex(peerKey)])
  }

  /** Pays out this account's slot once unbonded (`StillBonded` before, `AccusationPending` if accused). */
  async withdraw(peerKey: Uint8Array): Promise<Hash> {
    return this.#send('withdraw', [peerKeyHex(peerKey)])
  }

  async stakeOf(peerKey: Uint8Array, owner: Address): Promise<StakeSlot> {
    const [amount, unlockAt, openAccusations] = await this.#contract.read.stakeOf([
      peerKeyHex(peerKey),
      owner,
    ])
    return {
      amount,
      unlockAt: unlockAt === 0n ? undefined : Number(unlockAt),
      openAccusations,
      bonded: amount > 0n && unlockAt === 0n,
    }
  }

  /**
   * Accuses (peer key, owner) with `evidence` (the encoded fraud proof, published in the event so every
   * adjudicator can re-execute it) and a bond; returns the accusation id.
   */
  async accuse(peerKey: Uint8Array, owner: Address, evidence: Uint8Array, bond: bigint): Promise<bigint> {
    const hash = await this.#send('accuse', [peerKeyHex(peerKey), owner, bytesToHex(evidence)], bond)
    const receipt = await this.#connection.publicClient.getTransactionReceipt({ hash })
    const [event] = parseEventLogs({ abi: infraxaStakeAbi, eventName: 'Accused', logs: receipt.logs })
    if (event === undefined) throw new ContractRevertedError('no Accused event', [])
    return event.args.id
  }

  /** This account's verdict (it must be an adjudicator) on accusation `id`. */
  async vote(id: bigint, guilty: boolean): Promise<Hash> {
    return this.#send('vote', [id, guilty])
  }

  /** Closes an accusation nobody decided within the voting time; the bond becomes claimable. */
  async expire(id: bigint): Promise<Hash> {
    return this.#send('expire', [id])
  }

  /** Pays this account what it is owed (bonds back, rewards). */
  async claim(): Promise<Hash> {
    return this.#send('claim', [])
  }

  async accusation(id: bigint): Promise<Accusation> {
    const a = await this.#contract.read.accusation([id]).catch((error: unknown) => {
      throw chainError(error, this.#connection.address, infraxaStakeAbi)
    })
    return {
      id,
      peerKey: hexToBytes(a.peerKey),
      owner: a.owner,
      challenger: a.challenger,
      bond: a.bond,
      openedAt: Number(a.openedAt),
      status: STATUS[a.status] ?? 'open',
      guiltyVotes: a.guiltyVotes,
      innocentVotes: a.innocentVotes,
    }
  }

  /**
   * Accusations opened in blocks `fromBlock`..latest, with their evidence (what an adjudicator
   * re-executes), and the last block read (pass it + 1 next time).
   */
  async accusationsSince(
    fromBlock: bigint,
    /** Most blocks read at once (JSON-RPC endpoints cap log queries); the next call goes on from there. */
    maxBlocks = 10_000n,
  ): Promise<{
    accusations: Array<{ id: bigint; peerKey: Uint8Array; owner: Address; evidence: Uint8Array }>
    toBlock: bigint
  }> {
    const { publicClient } = this.#connection
    const latest = await publicClient.getBlockNumber()
    if (latest < fromBlock) return { accusations: [], toBlock: fromBlock - 1n }
    const toBlock = latest - fromBlock >= maxBlocks ? fromBlock + maxBlocks - 1n : latest
    const logs = await publicClient.getContractEvents({
      address: this.address,
      abi: infraxaStakeAbi,
      eventName: 'Accused',
      fromBlock,
      toBlock,
    })
    return {
      accusations: logs.map((log) => ({
        id: log.args.id!,
        peerKey: hexToBytes(log.args.peerKey!),
        owner: log.args.owner!,
        evidence: hexToBytes(log.args.evidence!),
      })),
      toBlock,
    }
  }

  /** The chain's latest block number. */
  async blockNumber(): Promise<bigint> {
    return this.#connection.publicClient.getBlockNumber()
  }

  /** How many accusations were ever opened (ids are 0 to count − 1). */
  async accusationCount(): Promise<bigint> {
    return this.#contract.read.accusationCount()
  }

  /** Whether `adjudicator` has voted on accusation `id`. */
  async hasVoted(id: bigint, adjudicator: Address): Promise<boolean> {
    return this.#contract.read.voted([id, adjudicator])
  }

  /** What `address` may claim. */
  async owed(address: Address): Promise<bigint> {
    return this.#contract.read.owed([address])
  }

  /** Everything burnt so far (slashed shares and forfeited bonds), in wei. */
  async burnt(): Promise<bigint> {
    return this.#contract.read.burnt()
  }

  async #send(
    name: 'stake' | 'startUnbonding' | 'withdraw' | 'accuse' | 'vote' | 'expire' | 'claim',
    args: readonly unknown[],
    value?: bigint,
  ): Promise<Hash> {
    return transact(this.#connection, {
      address: this.address,
      abi: infraxaStakeAbi,
      functionName: name,
      args,
      ...(value !== undefined && { value }),
    })
  }
}
