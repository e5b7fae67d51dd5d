import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InfraxaError } from '@infraxa/protocol'

/** The VRF key file exists but is not a 32-byte key. Never replaced silently. */
export class InvalidVrfKeyFileError extends InfraxaError {
  constructor(path: string) {
    super('ERR_INVALID_VRF_KEY_FILE', `VRF key file ${path} is corrupt (expected 32 bytes)`, {
      details:
        'Restore it from a backup, or delete it to make a new key (earlier challenges stay checkable).',
    })
  }
}

/** Loads the router's ECVRF secret key from `<dataDir>/vrf.key` (0600), creating it on first start. */
export function loadOrCreateVrfKey(dataDir: string): Uint8Array {
  const path = join(dataDir, 'vrf.key')
  if (existsSync(path)) {
    const key = new Uint8Array(readFileSync(path))
    if (key.length !== 32) throw new InvalidVrfKeyFileError(path)
    return key
  }
  const key = new Uint8Array(randomBytes(32))
  writeFileSync(path, key, { mode: 0o600, flag: 'wx' })
  return key
}
