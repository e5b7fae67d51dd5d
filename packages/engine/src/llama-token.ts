import type { Token } from 'node-llama-cpp'

/**
 * node-llama-cpp brands token ids (`Token`); the engine's API uses plain numbers and checks them against
 * the vocabulary before they reach llama.cpp. These are the only places the brand is applied.
 */
export function asLlamaToken(id: number): Token {
  return id as Token
}

/** {@link asLlamaToken} for a list. */
export function asLlamaTokens(ids: readonly number[]): Token[] {
  return ids as Token[]
}
