// Module resolve hook: maps the `node-llama-cpp` specifier to the entry given at registration
// (a CPU-variant sandbox, see sandbox.ts). Registered by register-redirect.mjs.
let target

export function initialize(data) {
  target = data.target
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'node-llama-cpp' && target) return { url: target, shortCircuit: true }
  return nextResolve(specifier, context)
}
