/** True when any build output under `root` is missing or older than the newest source. */
export function buildIsStale(root: string): boolean
