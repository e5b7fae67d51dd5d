import { DuplicateVerificationModeError, UnknownVerificationModeError } from '../errors.js'
import type { VerificationMode } from './spec.js'

/** Resolves verification modes by id. */
export interface ModeRegistry {
  add(mode: VerificationMode): ModeRegistry
  get(id: string): VerificationMode
  has(id: string): boolean
  ids(): string[]
}

/**
 * A registry of verification modes.
 *
 * @example
 * const registry = createModeRegistry([merkleMode()])
 * registry.get('merkle') // throws UnknownVerificationModeError for an unknown id
 */
export function createModeRegistry(modes: readonly VerificationMode[] = []): ModeRegistry {
  const byId = new Map<string, VerificationMode>()
  const registry: ModeRegistry = {
    add(mode) {
      if (mode.specificationVersion !== 'v1') {
        throw new TypeError(
          `mode "${mode.id}": unsupported specificationVersion ${String(mode.specificationVersion)}`,
        )
      }
      if (byId.has(mode.id)) throw new DuplicateVerificationModeError(mode.id)
      byId.set(mode.id, mode)
      return registry
    },
    get(id) {
      const mode = byId.get(id)
      if (mode === undefined) throw new UnknownVerificationModeError(id, [...byId.keys()])
      return mode
    },
    has: (id) => byId.has(id),
    ids: () => [...byId.keys()],
  }
  for (const mode of modes) registry.add(mode)
  return registry
}
