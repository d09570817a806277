/**
 * The TCP sockets a process listens on, read from Linux's `/proc` (the
 * machines the suite runs on): which addresses a dev server exposes is a
 * fact of the kernel's, not of what the server says it did.
 */
import { readdir, readFile, readlink } from 'node:fs/promises'

export interface ListeningSocket {
  /** `127.0.0.1`, `0.0.0.0`, `::1`, `::`, or another address. */
  address: string
  port: number
}

const LISTEN = '0A'

/** The sockets process `pid` (default: this one) listens on, over IPv4 and IPv6. */
export async function listeningSockets(pid: number | 'self' = 'self'): Promise<ListeningSocket[]> {
  const inodes = await socketInodes(pid)
  const sockets: ListeningSocket[] = []
  for (const [file, decode] of [
    ['tcp', ipv4],
    ['tcp6', ipv6],
  ] as const) {
    const table = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '')
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const [local, state, inode] = [fields[1], fields[3], fields[9]]
      if (!local || state !== LISTEN || !inode || !inodes.has(inode)) continue
      const [hexAddress = '', hexPort = ''] = local.split(':')
      sockets.push({ address: decode(hexAddress), port: Number.parseInt(hexPort, 16) })
    }
  }
  return sockets
}

/** Whether every socket is on the loopback interface. */
export function isLoopback(socket: ListeningSocket): boolean {
  return socket.address === '::1' || /^(::ffff:)?127\./.test(socket.address)
}

/** The inodes of the sockets among the process's open files. */
async function socketInodes(pid: number | 'self'): Promise<Set<string>> {
  const inodes = new Set<string>()
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
    if (inode) inodes.add(inode)
  }
  return inodes
}

/** The bytes of a 32-bit word as the kernel prints it (host order: little-endian here). */
function wordBytes(hex: string): number[] {
  return [6, 4, 2, 0].map((at) => Number.parseInt(hex.slice(at, at + 2), 16))
}

function ipv4(hex: string): string {
  return wordBytes(hex).join('.')
}

function ipv6(hex: string): string {
  const bytes = [0, 8, 16, 24].flatMap((at) => wordBytes(hex.slice(at, at + 8)))
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`
  }
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16))
  // The longest run of zero groups as `::`, as addresses are usually written.
  const joined = `:${groups.join(':')}:`
  const runs = joined.match(/(:0)+:/g) ?? []
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a), '')
  return (longest ? joined.replace(longest, '::') : joined).replace(/^:(?!:)|(?<!:):$/g, '')
}
