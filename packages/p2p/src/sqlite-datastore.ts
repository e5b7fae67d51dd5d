import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { BaseDatastore } from 'datastore-core'
import { Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { NotFoundError } from 'interface-store'

/**
 * libp2p's key-value store (an `interface-datastore` Datastore) in one SQLite file, through node:sqlite
 * like the apps' own stores: what libp2p keeps there — the peer store (known peers, their addresses and
 * protocols) and the DHT's provider records with their expiry — survives a restart.
 *
 * Writes go to a WAL synced at checkpoints: a crash of the process loses nothing written, a power cut at
 * most the last moments (libp2p rebuilds both from the network).
 *
 * @example
 * const datastore = new SqliteDatastore('./data/libp2p.sqlite')
 * const libp2p = await createLibp2p({ datastore, ... })
 */
export class SqliteDatastore extends BaseDatastore {
  readonly #db: DatabaseSync
  readonly #put: StatementSync
  readonly #get: StatementSync
  readonly #delete: StatementSync
  readonly #range: StatementSync
  readonly #all: StatementSync

  constructor(path: string) {
    super()
    mkdirSync(dirname(path), { recursive: true })
    this.#db = new DatabaseSync(path)
    this.#db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;' +
        'CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID',
    )
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)')
    this.#get = this.#db.prepare('SELECT value FROM kv WHERE key = ?')
    this.#delete = this.#db.prepare('DELETE FROM kv WHERE key = ?')
    // Keys of a prefix: key >= prefix AND key < prefix + U+FFFF (every key is text).
    this.#range = this.#db.prepare('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key')
    this.#all = this.#db.prepare('SELECT key, value FROM kv ORDER BY key')
  }

  override put(key: Key, value: Uint8Array): Key {
    this.#put.run(key.toString(), value)
    return key
  }

  override get(key: Key): Uint8Array {
    const row = this.#get.get(key.toString()) as { value: Uint8Array } | undefined
    if (row === undefined) throw new NotFoundError(`no ${key.toString()} in the datastore`)
    return new Uint8Array(row.value)
  }

  override has(key: Key): boolean {
    return this.#get.get(key.toString()) !== undefined
  }

  override delete(key: Key): void {
    this.#delete.run(key.toString())
  }

  override *_all(q: Query): Generator<Pair> {
    for (const row of this.#rows(q.prefix)) yield { key: new Key(row.key), value: new Uint8Array(row.value) }
  }

  override *_allKeys(q: KeyQuery): Generator<Key> {
    for (const row of this.#rows(q.prefix)) yield new Key(row.key)
  }

  /** Closes the file; the store cannot be used afterwards. */
  close(): void {
    if (this.#db.isOpen) this.#db.close()
  }

  #rows(prefix: string | undefined): Array<{ key: string; value: Uint8Array }> {
    // Read at once: libp2p may write while it iterates, which a live SQLite cursor does not allow.
    const rows = prefix === undefined ? this.#all.all() : this.#range.all(prefix, `${prefix}\uffff`)
    return rows as Array<{ key: string; value: Uint8Array }>
  }
}
