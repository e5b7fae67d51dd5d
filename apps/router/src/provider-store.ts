import type { DatabaseSync } from 'node:sqlite'
import { type CapabilityRecord, openCapabilityResponse, resolvePeerTarget, targetPeerId } from '@infraxa/p2p'
import { encodeEnvelope } from '@infraxa/protocol'

/** How long a provider the router has not reached is remembered. @default 7 days */
const FORGET_AFTER_MS = 7 * 24 * 3600_000

/**
 * The providers a router has known, on disk: each one's signed capability record (as it sent it) and
 * the addresses it was reached at. A restarted router starts with them — records checked again (the
 * signature of the peer's own key, the expiry) — instead of blind until the DHT answers.
 */
export class ProviderStore {
  readonly #db: DatabaseSync

  constructor(db: DatabaseSync) {
    this.#db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS known_providers (
        peer_id TEXT PRIMARY KEY,
        record BLOB NOT NULL,
        addresses TEXT NOT NULL,
        seen_at INTEGER NOT NULL
      )
    `)
  }

  /** Remembers a provider's latest record and addresses (after it was reached). */
  save(record: CapabilityRecord, addresses: readonly string[]): void {
    this.#db
      .prepare(
        `INSERT INTO known_providers (peer_id, record, addresses, seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (peer_id) DO UPDATE SET record = excluded.record,
           addresses = CASE WHEN excluded.addresses = '[]' THEN addresses ELSE excluded.addresses END,
           seen_at = excluded.seen_at`,
      )
      .run(record.peerId.toString(), encodeEnvelope(record.envelope), JSON.stringify(addresses), Date.now())
  }

  /**
   * The remembered providers whose records still verify and have not expired (others are forgotten),
   * and that were reached within the last 7 days.
   */
  load(): Array<{ record: CapabilityRecord; addresses: string[]; seenAt: number }> {
    this.#db.prepare('DELETE FROM known_providers WHERE seen_at < ?').run(Date.now() - FORGET_AFTER_MS)
    const rows = this.#db
      .prepare('SELECT peer_id, record, addresses, seen_at FROM known_providers')
      .all() as Array<{ peer_id: string; record: Uint8Array; addresses: string; seen_at: number }>
    const out: Array<{ record: CapabilityRecord; addresses: string[]; seenAt: number }> = []
    for (const row of rows) {
      try {
        const remotePeer = targetPeerId(resolvePeerTarget(row.peer_id))
        if (remotePeer === undefined) throw new Error('not a peer id')
        const record = openCapabilityResponse({ remotePeer }, row.record)
        const addresses = JSON.parse(row.addresses) as unknown
        out.push({
          record,
          addresses: Array.isArray(addresses) ? addresses.filter((a) => typeof a === 'string') : [],
          seenAt: row.seen_at,
        })
      } catch {
        // Expired, or not signed by its peer's key (a damaged file): not trusted again.
        this.forget(row.peer_id)
      }
    }
    return out
  }

  forget(peerId: string): void {
    this.#db.prepare('DELETE FROM known_providers WHERE peer_id = ?').run(peerId)
  }
}
