import fs from 'node:fs';
import net from 'node:net';

/** Who listens on a TCP port, as far as this user may see (Linux `/proc`). */
export interface PortOwner {
  pid: number;
  /** The command line (its first 120 characters). */
  command: string;
}

/** True when something accepts TCP connections on 127.0.0.1:port, or the port cannot be bound there. */
export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  const connects = await new Promise<boolean>((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (connects) return true;
  // a listener that does not accept (full backlog) still holds the port
  return new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** Socket inodes listening on `port` (IPv4 and IPv6 tables of `/proc/net`). */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the 10th field
      if (f[1]?.endsWith(`:${hex}`) && f[3] === '0A' && f[9]) out.add(f[9]);
    }
  }
  return out;
}

/**
 * The process listening on `port`, when this user may see it (its own
 * processes; root sees all). Undefined when unknown: another user's process,
 * a container, or not Linux.
 */
export function portOwner(port: number): PortOwner | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1] as string)) {
        let command = '';
        try {
          command = fs
            .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .join(' ')
            .replace(/\s+/g, ' ');
        } catch {
          // gone meanwhile
        }
        return { pid: Number(pid), command: command.slice(0, 120) || '?' };
      }
    }
  }
  return undefined;
}
