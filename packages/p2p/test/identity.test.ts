import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '@infraxa/protocol'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, InvalidKeyFileError, KEY_FILE_NAME, loadOrCreateNodeKey } from '../src/index.js'

let root: string
let counter = 0
const fresh = () => join(root, `dir-${counter++}`)

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'infraxa-p2p-identity-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('node identity', () => {
  it('creates the key 0600 in a 0700 directory and loads the same key again', async () => {
    const dir = fresh()
    const first = await loadOrCreateNodeKey(dir)
    expect(first.type).toBe('Ed25519')
    expect((await stat(join(dir, KEY_FILE_NAME))).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const again = await loadOrCreateNodeKey(dir)
    expect(again.equals(first)).toBe(true)
  })

  it('keeps the PeerId across a node restart with the same data dir', async () => {
    const dir = fresh()
    const first = await createNode({ dataDir: dir, dht: false })
    const peerId = first.peerId.toString()
    await first.stop()
    const second = await createNode({ dataDir: dir, dht: false })
    try {
      expect(second.peerId.toString()).toBe(peerId)
    } finally {
      await second.stop()
    }
  })

  it('gives racing processes the same key', async () => {
    const dir = fresh()
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateNodeKey(dir)))
    for (const key of keys) expect(key.equals(keys[0])).toBe(true)
  })

  it('tightens a key file readable by others', async () => {
    const dir = fresh()
    await loadOrCreateNodeKey(dir)
    await chmod(join(dir, KEY_FILE_NAME), 0o644)
    await loadOrCreateNodeKey(dir)
    expect((await stat(join(dir, KEY_FILE_NAME))).mode & 0o777).toBe(0o600)
  })

  it.each([
    ['garbage', () => Buffer.from('definitely not a key')],
    ['an empty file', () => Buffer.alloc(0)],
  ])('refuses %s and never replaces it', async (_, contents) => {
    const dir = fresh()
    await loadOrCreateNodeKey(dir)
    const path = join(dir, KEY_FILE_NAME)
    await writeFile(path, contents())
    const before = await readFile(path)
    const error = await loadOrCreateNodeKey(dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidKeyFileError)
    expect((error as InvalidKeyFileError).code).toBe('ERR_INVALID_KEY_FILE')
    expect((error as InvalidKeyFileError).path).toBe(path)
    expect((await readFile(path)).equals(before)).toBe(true)
    await expect(createNode({ dataDir: dir, dht: false })).rejects.toBeInstanceOf(InvalidKeyFileError)
  })

  it('refuses a key whose stored public half was corrupted', async () => {
    const dir = fresh()
    await loadOrCreateNodeKey(dir)
    const path = join(dir, KEY_FILE_NAME)
    const bytes = await readFile(path)
    bytes[bytes.length - 1]! ^= 0x01
    await writeFile(path, bytes)
    await expect(loadOrCreateNodeKey(dir)).rejects.toThrow(/does not match/)
  })

  it('refuses a key of another type', async () => {
    const dir = fresh()
    await loadOrCreateNodeKey(dir)
    await writeFile(join(dir, KEY_FILE_NAME), privateKeyToProtobuf(await generateKeyPair('secp256k1')))
    await expect(loadOrCreateNodeKey(dir)).rejects.toThrow(/secp256k1/)
  })

  it('refuses a key path that is not a regular file', async () => {
    const dir = fresh()
    await loadOrCreateNodeKey(dir)
    await rm(join(dir, KEY_FILE_NAME))
    await symlink('/dev/null', join(dir, KEY_FILE_NAME))
    await expect(loadOrCreateNodeKey(dir)).rejects.toBeInstanceOf(InvalidKeyFileError)
  })

  it('uses a given private key, and refuses it together with a data dir', async () => {
    const key = await generateKeyPair('Ed25519')
    const node = await createNode({ privateKey: key, dht: false })
    try {
      expect(node.peerId.equals(peerIdFromPrivateKey(key))).toBe(true)
    } finally {
      await node.stop()
    }
    await expect(createNode({ privateKey: key, dataDir: fresh() })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
  })
})
