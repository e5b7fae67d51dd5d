export { main } from './cli.js'
export { type Answer, type AskOptions, ask } from './client.js'
export { RouterRequestError } from './errors.js'
