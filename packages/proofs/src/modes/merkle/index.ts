export { MERKLE_MODE_ID, merkleMode } from './mode.js'
