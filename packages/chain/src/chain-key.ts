import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidArgumentError } from '@infraxa/protocol'
import type { Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'

/** File name of the chain key inside a data dir. */
export const CHAIN_KEY_FILE = 'chain.key'

/**
 * The node's chain account key (secp256k1, separate from its libp2p Ed25519 key): read from
 * `<dataDir>/chain.key`, or created there (mode 0600) on first use.
 *
 * @throws {InvalidArgumentError} the file exists but does not hold a 32-byte hex key
 */
export function loadOrCreateChainKey(dataDir: string): Hex {
  const path = join(dataDir, CHAIN_KEY_FILE)
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim()
    if (!/^0x[0-9a-fA-F]{64}$/.test(text)) {
      throw new InvalidArgumentError(`${path} does not hold a chain key (0x + 64 hex digits)`)
    }
    return text as Hex
  }
  mkdirSync(dataDir, { recursive: true })
  const key = generatePrivateKey()
  writeFileSync(path, `${key}\n`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return key
}
