import { randomBytes } from 'node:crypto'
import { chmod, link, lstat, mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  generateKeyPair,
  generateKeyPairFromSeed,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
} from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { InvalidKeyFileError } from './errors.js'

/** Name of the key file inside a node's data directory. */
export const KEY_FILE_NAME = 'node.key'

/** Largest key file read: an Ed25519 key in libp2p's protobuf encoding is 68 bytes. */
const MAX_KEY_FILE_BYTES = 4096

/**
 * Loads the node's Ed25519 key from `<dataDir>/node.key`, creating the directory (mode 0700) and the key
 * (mode 0600) the first time. The file holds the key in libp2p's private-key protobuf encoding, so the
 * same PeerId comes back after every restart.
 *
 * Creation is atomic (written to a temporary file, then linked into place), so a crash never leaves a
 * half-written key and two processes starting at once end up with the same key. A key file readable by
 * others is tightened to 0600.
 *
 * @throws {InvalidKeyFileError} the file exists but is not a regular file or not an Ed25519 key; it is
 *   never replaced.
 * @example
 * const key = await loadOrCreateNodeKey('/var/lib/infraxa')
 */
export async function loadOrCreateNodeKey(dataDir: string): Promise<Ed25519PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, KEY_FILE_NAME)
  const existing = await readNodeKey(path)
  if (existing !== undefined) return existing

  const key = await generateKeyPair('Ed25519')
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const file = await open(temporary, 'wx', 0o600)
  try {
    await file.writeFile(privateKeyToProtobuf(key))
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await link(temporary, path)
  } catch (error) {
    // Another process created the key first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await rm(temporary, { force: true })
  }
  const stored = await readNodeKey(path)
  if (stored === undefined) throw new InvalidKeyFileError(path, 'disappeared right after it was written')
  return stored
}

/** Reads a key file; `undefined` when it does not exist. */
async function readNodeKey(path: string): Promise<Ed25519PrivateKey | undefined> {
  let stats: Awaited<ReturnType<typeof lstat>>
  try {
    stats = await lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  if (!stats.isFile()) throw new InvalidKeyFileError(path, 'not a regular file')
  if (stats.size > MAX_KEY_FILE_BYTES) throw new InvalidKeyFileError(path, `${stats.size} bytes is too large`)
  if ((stats.mode & 0o077) !== 0) await chmod(path, 0o600)
  const bytes = await readFile(path)
  if (bytes.length === 0) throw new InvalidKeyFileError(path, 'the file is empty')
  let key: ReturnType<typeof privateKeyFromProtobuf>
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (cause) {
    throw new InvalidKeyFileError(path, 'not a libp2p private key', { cause })
  }
  if (key.type !== 'Ed25519')
    throw new InvalidKeyFileError(path, `a ${key.type} key where Ed25519 is required`)
  // The encoding stores the public key next to the seed: a flipped bit in either shows up here.
  const derived = await generateKeyPairFromSeed('Ed25519', key.raw.subarray(0, 32))
  if (!derived.publicKey.equals(key.publicKey)) {
    throw new InvalidKeyFileError(path, 'the public key does not match the secret key (corrupted)')
  }
  return key
}
