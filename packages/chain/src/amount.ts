import { InvalidArgumentError } from '@infraxa/protocol'
import { type Address, getAddress, isAddress, parseEther, parseGwei } from 'viem'

/**
 * An amount of ether as a command line gives it: wei (`1000`), or a decimal with a unit (`5eth`,
 * `0.25 eth`, `30gwei`, `7wei`).
 *
 * @throws {InvalidArgumentError} anything else (negative, empty, another unit, too many decimals)
 */
export function parseAmount(text: string): bigint {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(eth|ether|gwei|wei)?\s*$/i.exec(text)
  if (m === null) {
    throw new InvalidArgumentError(`"${text}" is not an amount: give wei (1000) or a unit (5eth, 30gwei)`)
  }
  const [, number = '', unit = 'wei'] = m
  const kind = unit.toLowerCase()
  try {
    if (kind === 'eth' || kind === 'ether') return parseEther(number)
    if (kind === 'gwei') return parseGwei(number)
    if (number.includes('.')) throw new Error('wei has no decimals')
    return BigInt(number)
  } catch {
    throw new InvalidArgumentError(
      `"${text}" is not an amount: ${kind} takes at most ${kind === 'gwei' ? 9 : 18} decimals`,
    )
  }
}

/**
 * A chain address (0x + 40 hex digits; a mixed-case one must carry a valid EIP-55 checksum), checksummed.
 *
 * @throws {InvalidArgumentError} not an address
 */
export function parseAddress(text: string): Address {
  if (!isAddress(text))
    throw new InvalidArgumentError(`"${text}" is not a chain address (0x + 40 hex digits)`)
  return getAddress(text)
}
