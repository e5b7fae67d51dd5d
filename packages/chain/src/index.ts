/**
 * @infraxa/chain — Infraxa on an EVM chain: the stake contract (stake per peer key, unbonding, bonded
 * accusations, quorum slashing; Solidity in `contracts/`, compiled by `pnpm generate`), an embedded
 * in-process chain (Hardhat's EDR) for the demo and tests, and viem clients for any JSON-RPC endpoint.
 *
 * @packageDocumentation
 */
export * from './amount.js'
export * from './chain-key.js'
export * from './channels.js'
export * from './connect.js'
export * from './embedded-chain.js'
export * from './errors.js'
export { infraxaChannelsAbi, infraxaChannelsBytecode } from './generated/infraxa-channels.js'
export { infraxaStakeAbi, infraxaStakeBytecode } from './generated/infraxa-stake.js'
export * from './stake-contract.js'
