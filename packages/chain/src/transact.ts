import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  encodeDeployData,
  type Hash,
  type Hex,
  InsufficientFundsError as ViemInsufficientFundsError,
} from 'viem'
import type { ChainConnection } from './connect.js'
import { ContractRevertedError, InsufficientFundsError } from './errors.js'

/** Turns viem's errors into this package's: a revert names the contract's custom error. */
export function chainError(error: unknown, address: Address, abi?: Abi): unknown {
  if (!(error instanceof BaseError)) return error
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
  if (reverted instanceof ContractFunctionRevertedError) {
    return new ContractRevertedError(
      reverted.data?.errorName ?? reverted.reason ?? 'unknown',
      [...(reverted.data?.args ?? [])],
      { cause: error },
    )
  }
  if (error.walk((e) => e instanceof ViemInsufficientFundsError) !== null) {
    return new InsufficientFundsError(address, { cause: error })
  }
  // A revert with no ABI function to decode against (a constructor): decode its bytes as the contract's.
  const data = (
    error.walk((e) => typeof (e as { data?: unknown }).data === 'string') as { data?: Hex } | null
  )?.data
  if (abi !== undefined && data?.startsWith('0x') === true) {
    try {
      const decoded = decodeErrorResult({ abi, data })
      return new ContractRevertedError(decoded.errorName, [...(decoded.args ?? [])], { cause: error })
    } catch {
      // Not one of the contract's errors.
    }
  }
  return error
}

/**
 * Sends one contract call from the connection's account and waits for its receipt. Simulated first: a
 * refusal comes back with the contract's reason, before any gas is spent.
 *
 * @throws {ContractRevertedError} the contract refused (its custom error and arguments)
 * @throws {InsufficientFundsError} the account cannot pay value + gas
 */
export async function transact(
  connection: ChainConnection,
  call: { address: Address; abi: Abi; functionName: string; args: readonly unknown[]; value?: bigint },
): Promise<Hash> {
  const { publicClient, walletClient } = connection
  try {
    const { request } = await publicClient.simulateContract({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      account: walletClient.account,
      ...(call.value !== undefined && { value: call.value }),
    } as never)
    const hash = await walletClient.writeContract(request as never)
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new ContractRevertedError(`${call.functionName} reverted`, [])
    return hash
  } catch (error) {
    throw chainError(error, connection.address, call.abi)
  }
}

/**
 * Deploys a contract from the connection's account: its constructor run as a call first, so a refusal
 * names the contract's error.
 *
 * @throws {ContractRevertedError} the constructor refused
 */
export async function deploy(
  connection: ChainConnection,
  contract: { abi: Abi; bytecode: Hex; args: readonly unknown[] },
): Promise<Address | undefined> {
  try {
    await connection.publicClient.call({
      account: connection.address,
      data: encodeDeployData({
        abi: contract.abi,
        bytecode: contract.bytecode,
        args: contract.args,
      } as never),
    })
    const hash = await connection.walletClient.deployContract({
      abi: contract.abi,
      bytecode: contract.bytecode,
      args: contract.args,
    } as never)
    return (await connection.publicClient.waitForTransactionReceipt({ hash })).contractAddress ?? undefined
  } catch (error) {
    throw chainError(error, connection.address, contract.abi)
  }
}
