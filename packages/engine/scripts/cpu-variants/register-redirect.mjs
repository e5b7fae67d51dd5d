// `node --import ./register-redirect.mjs`: redirects `node-llama-cpp` to $INFRAXA_NODE_LLAMA_CPP_ENTRY.
import { register } from 'node:module'

const target = process.env.INFRAXA_NODE_LLAMA_CPP_ENTRY
if (target) register('./redirect-hooks.mjs', import.meta.url, { data: { target } })
