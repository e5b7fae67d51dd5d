import { type ChainConnection, type ChainEndpoint, openStakeContract } from '@infraxa/chain'
import type { Address, Hex } from 'viem'

/** Where a provider's stake lives (see {@link ProviderOptions.chain}). */
export interface ProviderChainOptions {
  /** The chain: an embedded one (`{ embedded }`) or a JSON-RPC URL (`{ rpcUrl }`). */
  endpoint: ChainEndpoint
  /** The stake contract's address. */
  contract: Address
  /** The chain account's key. @default `<dataDir>/chain.key`, created on first use */
  privateKey?: Hex
}

/** The slot a provider bonded: its owner and the amount on chain. */
export interface BondedStake {
  owner: Address
  amount: bigint
  bonded: boolean
}

/**
 * Makes the provider's slot (its peer key, its chain account) hold at least `amount`: stakes the
 * difference (nothing when it already holds enough, so a restart does not stake again) and reads the
 * slot back.
 *
 * @throws {ContractRevertedError} e.g. `StakeUnbonding`: the slot is unbonding (withdraw it first)
 * @throws {InsufficientFundsError} the chain account cannot pay
 * @throws {ChainUnreachableError} the endpoint does not answer
 */
export async function bondStake(
  connection: ChainConnection,
  contractAddress: Address,
  peerKey: Uint8Array,
  amount: bigint,
): Promise<BondedStake> {
  const contract = await openStakeContract(connection, contractAddress)
  const before = await contract.stakeOf(peerKey, connection.address)
  if (amount > before.amount) await contract.stake(peerKey, amount - before.amount)
  const slot = await contract.stakeOf(peerKey, connection.address)
  return { owner: connection.address, amount: slot.amount, bonded: slot.bonded }
}
